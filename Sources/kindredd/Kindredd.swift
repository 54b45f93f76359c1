import ArgumentParser
import Dispatch
import Foundation
import KindredCore
import KindredDaemon
import KindredFeatures
import KindredProtocol
import KindredStore
import Logging

/// The daemon. It opens the state directory (repairing what an unclean stop left, Schema/lmdb.md),
/// loads its index, answers the socket protocol (Schema/protocol.md), and ingests every image under
/// the watched roots in the background. Watching for changes with inotify comes next; today a
/// restart or a new `--watch` picks up changes, unchanged files costing one stat each.
@main
struct Kindredd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kindredd",
        abstract: "The Kindred daemon: keeps an image collection's vectors, catalog and index, and answers on a Unix socket.",
        version: KindredVersion.string
    )

    @Option(name: .customLong("state"), help: "The state directory (default: $STATE_DIRECTORY, else $XDG_STATE_HOME/kindred).")
    var stateDirectory: String?

    @Option(name: .customLong("watch"), help: "A directory of images to keep indexed; repeat for several. Remembered in the catalog.")
    var watch: [String] = []

    @Option(name: .customLong("socket"), help: "The socket path (default: $RUNTIME_DIRECTORY or $XDG_RUNTIME_DIR/kindred/kindred.sock).")
    var socket: String?

    @Option(name: .customLong("threads"), help: "Threads for extraction (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
        let logger = { () -> Logger in
            var logger = Logger(label: "kindredd") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = level
            return logger
        }()

        let paths = StatePaths.resolve(explicit: stateDirectory)
        try paths.create()
        let store = try VectorStore(directory: paths.vectors, spaces: StandardSpaces.all, includeRegistered: true, logger: logger)
        let catalog = try Catalog(url: paths.catalog, logger: logger)
        _ = try StateRepair.run(catalog: catalog, store: store, requiredSpaces: StandardSpaces.all.map(\.name), logger: logger)
        let network = try EfficientNetLite0(weights: try ModelFiles.load(from: paths), batchSize: 8, threads: threads)
        let (index, opened) = try LiveIndex.open(snapshot: paths.index, store: store, space: StandardSpaces.cnn.name, threads: threads, logger: logger)
        logger.info("index ready", metadata: ["size": "\(index.index.count)", "snapshot": "\(opened.loadedSnapshot)", "added": "\(opened.added)"])
        for directory in watch {
            let url = URL(fileURLWithPath: directory).standardizedFileURL
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--watch \(directory): not a directory")
            }
            try catalog.addRoot(url.path)
        }

        let service = CommandService(catalog: catalog, store: store, index: index, logger: logger)
        let server = SocketServer(service: service, logger: logger)
        let socketPath = SocketPath.resolve(explicit: socket)
        _ = try server.start(path: socketPath)

        let ingestor = Ingestor(catalog: catalog, store: store, index: index, network: network, threads: threads, logger: logger)
        let stopping = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let roots = try catalog.roots()
        Thread {
            defer { finished.signal() }
            service.progress.withLock { $0.scanning = true }
            for root in roots {
                let files = Self.scan(root.path)
                service.progress.withLock { $0.pending += files.count }
                var report = Ingestor.Report()
                for start in stride(from: 0, to: files.count, by: 64) {
                    if stopping.wait(timeout: .now()) == .success { stopping.signal(); return }
                    let chunk = Array(files[start..<min(files.count, start + 64)])
                    do {
                        let r = try ingestor.ingest(chunk, rootID: root.id)
                        report.indexed += r.indexed; report.unchanged += r.unchanged; report.failed += r.failed
                    } catch {
                        logger.error("ingestion failed", metadata: ["root": "\(root.path)", "error": "\(error)"])
                    }
                    service.progress.withLock { $0.pending -= chunk.count }
                }
                logger.info("root scanned", metadata: ["root": "\(root.path)", "indexed": "\(report.indexed)", "unchanged": "\(report.unchanged)", "failed": "\(report.failed)"])
            }
            service.progress.withLock { $0.scanning = false }
        }.start()

        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let signalled = DispatchSemaphore(value: 0)
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { signalled.signal() }
            source.resume()
            return source
        }
        logger.notice("ready", metadata: ["socket": "\(socketPath)", "state": "\(paths.root.path)"])
        signalled.wait()
        sources.forEach { $0.cancel() }
        logger.info("stopping: finishing the batch in flight")
        stopping.signal()
        _ = finished.wait(timeout: .now() + 8)
        try server.shutdown()
        try index.index.save(to: paths.index)
        try store.environment.sync()
        unlink(socketPath)
        logger.info("stopped", metadata: ["snapshot": "\(paths.index.path)"])
    }

    /// Regular files under `root`, hidden ones skipped, in path order.
    static func scan(_ root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(at: URL(fileURLWithPath: root), includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else { return [] }
        var files: [String] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            files.append(url.standardizedFileURL.path)
        }
        return files.sorted()
    }
}
