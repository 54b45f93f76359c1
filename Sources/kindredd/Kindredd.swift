import ArgumentParser
import Dispatch
import Foundation
import KindredCore
import KindredDaemon
import KindredFeatures
import KindredProtocol
import KindredStore
import KindredWatch
import Logging

/// The daemon. It opens the state directory (repairing what an unclean stop left, Schema/lmdb.md),
/// loads its index, answers the socket protocol (Schema/protocol.md), ingests every image under the
/// watched roots in the background, then follows them with inotify.
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

    @Option(name: .customLong("settle"), help: "Seconds a changed file must stay quiet before it is read.")
    var settleSeconds = 1.0

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

        let queryNetwork = try EfficientNetLite0(weights: try ModelFiles.load(from: paths), batchSize: 1, threads: 1)
        let service = CommandService(catalog: catalog, store: store, index: index, network: queryNetwork, logger: logger)
        let server = SocketServer(service: service, logger: logger)
        let socketPath = SocketPath.resolve(explicit: socket)
        _ = try server.start(path: socketPath, inheritedSocket: Systemd.listeningSocket())
        if let interval = Systemd.watchdogInterval() {
            Thread {
                while true {
                    Thread.sleep(forTimeInterval: interval)
                    if server.isResponsive() { Systemd.notify("WATCHDOG=1") }
                }
            }.start()
        }

        let ingestor = Ingestor(catalog: catalog, store: store, index: index, network: network, threads: threads, logger: logger)
        let stopping = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let roots = try catalog.roots()
        let settle = settleSeconds
        Thread {
            defer { finished.signal() }
            // The watcher belongs to this thread.
            let watcher: InotifyWatcher
            do { watcher = try InotifyWatcher(logger: logger) } catch {
                logger.critical("cannot start inotify; nothing will be indexed", metadata: ["error": "\(error)"])
                return
            }
            func stopRequested() -> Bool {
                guard stopping.wait(timeout: .now()) == .success else { return false }
                stopping.signal()
                return true
            }
            /// Ingests everything under the roots and drops what vanished: at start, and after an overflow.
            func rescan() {
                service.progress.withLock { $0.scanning = true }
                for root in roots {
                    let files = watcher.add(root: root.path)
                    service.progress.withLock { $0.pending += files.count }
                    var report = Ingestor.Report()
                    do {
                        let gone = try ingestor.removeVanished(under: root.path, present: Set(files))
                        for start in stride(from: 0, to: files.count, by: 64) where !stopRequested() {
                            let chunk = Array(files[start..<min(files.count, start + 64)])
                            let r = try ingestor.ingest(chunk, rootID: root.id)
                            report.indexed += r.indexed; report.unchanged += r.unchanged; report.failed += r.failed
                            let pending = service.progress.withLock { $0.pending -= chunk.count; return $0.pending }
                            Systemd.notify("STATUS=scanning \(root.path): \(pending) files to go")
                        }
                        logger.info("root scanned", metadata: ["root": "\(root.path)", "indexed": "\(report.indexed)", "unchanged": "\(report.unchanged)",
                                                               "failed": "\(report.failed)", "removed": "\(gone)"])
                    } catch {
                        logger.error("scan failed", metadata: ["root": "\(root.path)", "error": "\(error)"])
                    }
                }
                service.progress.withLock { $0.scanning = false; $0.pending = 0 }
                Systemd.notify("STATUS=following \(roots.count) root\(roots.count == 1 ? "" : "s"), \(index.index.count) images indexed")
            }
            rescan()
            // Then follow the file system. Changed files wait until they have been quiet for the
            // settle delay, so a file still being copied is read once, whole.
            var settling: [String: Date] = [:]
            var lastPoll = Date()
            while !stopRequested() {
                for event in watcher.next(timeout: 0.25) {
                    do {
                        switch event {
                        case .changed(let path): settling[path] = Date().addingTimeInterval(settle)
                        case .removed(let path):
                            settling[path] = nil
                            if try !ingestor.remove(path: path) { try ingestor.remove(directory: path) }
                        case .renamed(let from, let to):
                            settling[from] = nil
                            try ingestor.rename(from: from, to: to)
                        case .overflow:
                            logger.warning("inotify queue overflowed; rescanning every root")
                            settling.removeAll()
                            rescan()
                        }
                    } catch {
                        logger.error("event failed", metadata: ["event": "\(event)", "error": "\(error)"])
                    }
                }
                let due = settling.filter { $0.value <= Date() }.map(\.key).sorted()
                service.progress.withLock { $0.pending = settling.count }
                if !due.isEmpty {
                    for path in due { settling[path] = nil }
                    do { _ = try ingestor.ingest(due) } catch { logger.error("ingestion failed", metadata: ["error": "\(error)"]) }
                }
                // Directories beyond the inotify limit are polled.
                if !watcher.unwatched.isEmpty, Date().timeIntervalSince(lastPoll) > 30 {
                    lastPoll = Date()
                    for directory in watcher.unwatched {
                        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { !$0.hasPrefix(".") }.map { directory + "/" + $0 } ?? []
                        do { _ = try ingestor.ingest(files) } catch { logger.error("polling failed", metadata: ["error": "\(error)"]) }
                    }
                }
            }
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
        Systemd.notify("READY=1\nSTATUS=answering; scanning the roots")
        signalled.wait()
        sources.forEach { $0.cancel() }
        logger.info("stopping: finishing the batch in flight")
        Systemd.notify("STOPPING=1")
        stopping.signal()
        _ = finished.wait(timeout: .now() + 8)
        try server.shutdown()
        try index.index.save(to: paths.index)
        try store.environment.sync()
        unlink(socketPath)
        logger.info("stopped", metadata: ["snapshot": "\(paths.index.path)"])
    }
}
