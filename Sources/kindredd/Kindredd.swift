import ArgumentParser
import Dispatch
import Foundation
import KindredCore
import KindredDaemon
import KindredFeatures
import KindredImaging
import KindredProtocol
import KindredStore
import KindredWatch
import Logging
import Synchronization

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

    @Option(name: .customLong("config"), help: "A TOML configuration file (Schema/kindred.toml documents every key).")
    var configFile: String?

    @Option(name: .customLong("state"), help: "The state directory (default: $STATE_DIRECTORY, else $XDG_STATE_HOME/kindred).")
    var stateDirectory: String?

    @Option(name: .customLong("watch"), help: "A directory of images to keep indexed; repeat for several. Remembered in the catalog.")
    var watch: [String] = []

    @Option(name: .customLong("socket"), help: "The socket path (default: $RUNTIME_DIRECTORY or $XDG_RUNTIME_DIR/kindred/kindred.sock).")
    var socket: String?

    @Option(name: .customLong("settle"), help: "Seconds a changed file must stay quiet before it is read.")
    var settleSeconds: Double?

    @Option(name: .customLong("threads"), help: "Threads for extraction (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    /// kindredd re-executes itself with these to decode a suspect file in a child (DecodeProbe).
    @Option(name: .customLong("probe-decode"), help: .hidden) var probeDecode: String?
    @Option(name: .customLong("probe-limits"), help: .hidden) var probeLimits: String?

    /// The file's settings with the flags on top.
    func configuration() throws -> Configuration {
        var configuration = Configuration()
        do {
            if let configFile { configuration = try Configuration.load(file: URL(fileURLWithPath: configFile)) }
            if let stateDirectory { configuration.stateDirectory = stateDirectory }
            if let socket { configuration.socket = socket }
            if let settleSeconds { configuration.settleSeconds = settleSeconds }
            if let threads { configuration.threads = threads }
            if let logLevel { configuration.logLevel = logLevel }
            configuration.roots += watch.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            try configuration.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        return configuration
    }

    func run() throws {
        if let probeDecode { DecodeProbe.runChild(path: probeDecode, limits: probeLimits ?? "") }
        // Each client is a file descriptor; take all the kernel allows this process (systemd's
        // default soft limit is 1,024).
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        let configuration = try configuration()
        let logger = { () -> Logger in
            var logger = Logger(label: "kindredd") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
            return logger
        }()
        let threads = configuration.effectiveThreads

        let paths = StatePaths.resolve(explicit: configuration.stateDirectory)
        try paths.create()
        let state = try StateStore(paths: paths, spaces: StandardSpaces.all, includeRegistered: true, logger: logger)
        let catalog = state.catalog, store = state.vectors
        _ = try state.repair(requiredSpaces: StandardSpaces.required.map(\.name), logger: logger)
        // A new model or descriptor version makes older vectors stale: the first scan re-extracts them.
        let stale = try state.requeueStale(spaces: StandardSpaces.all.map(\.name))
        if stale > 0 { logger.notice("vectors from an older producer; re-extracting in the background", metadata: ["items": "\(stale)"]) }
        if try catalog.failInterruptedRuns() > 0 { logger.notice("a refit was interrupted by the last stop; it is marked failed") }
        // Roots from the flags and the file: resolved, then held to the rules WATCH follows
        // (never `/`, never nested); refused ones stop the start with the reason.
        var roots = try catalog.rootSet()
        for root in configuration.roots {
            do {
                let path = try CollectionPath.resolvingDirectory(root)
                try roots.validateNew(path)
                try catalog.addRoot(path, device: path.device)
                roots.insert(path)
            } catch let error as PathError {
                throw ValidationError("watch root \(error)")
            }
        }
        let weights = try ModelFiles.load(from: paths)
        let progress = IngestProgress()
        var decodeOptions = DecodeOptions()
        decodeOptions.pixelLimit = configuration.maxPixels
        decodeOptions.maxFileBytes = configuration.maxFileBytes
        let service = CommandService(catalog: catalog, store: store, network: try EfficientNetLite0(weights: weights, batchSize: 1, threads: 1),
                                     progress: progress, efSearch: configuration.efSearch, policy: AccessPolicy(configuration),
                                     decodeOptions: decodeOptions, logger: logger)
        let server = SocketServer(service: service, limits: SocketServer.Limits(configuration), logger: logger)
        let socketPath = SocketPath.resolve(explicit: configuration.socket)
        // A socket systemd passed (LISTEN_FDS) is systemd's: kindredd never unlinks its path, or
        // socket activation would break after the first restart.
        let inherited = Systemd.listeningSocket()
        let ownsSocketPath = inherited == nil
        _ = try server.start(path: socketPath, inheritedSocket: inherited)
        if let interval = Systemd.watchdogInterval() {
            Thread {
                while true {
                    Thread.sleep(forTimeInterval: interval)
                    if server.isResponsive() { Systemd.notify("WATCHDOG=1") }
                }
            }.start()
        }

        // Signals: until the indexes are loaded nothing has changed on disk, so a stop then is an
        // immediate exit; afterwards the main thread stops the ingestion thread and snapshots.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let signalled = DispatchSemaphore(value: 0)
        let loaded = Atomic<Bool>(false)
        let sources = [SIGTERM, SIGINT].map { (number: Int32) -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if !loaded.load(ordering: .acquiring) {
                    logger.notice("stopped while loading the index")
                    if ownsSocketPath { unlink(socketPath) }
                    Glibc.exit(0)
                }
                signalled.signal()
            }
            source.resume()
            return source
        }
        // Answer (PING, STATUS, INFO…) while the indexes load: building them for a large collection
        // without snapshots takes minutes, longer than systemd waits for READY.
        logger.notice("answering; loading the index", metadata: ["socket": "\(socketPath)", "state": "\(paths.root.path)"])
        Systemd.notify("READY=1\nSTATUS=answering; loading the index")

        progress.advance(to: .loading)
        let (indexes, opened) = try LiveIndexes.open(paths: paths, store: store, catalog: catalog, parameters: configuration.hnswParameters, threads: threads, logger: logger)
        for (space, report) in opened.sorted(by: { $0.key < $1.key }) {
            logger.info("index ready", metadata: ["space": "\(space)", "size": "\(indexes(space)!.index.count)", "snapshot": "\(report.loadedSnapshot)",
                                                  "added": "\(report.added)", "updated": "\(report.updated)", "removed": "\(report.removed)"])
        }
        let ingestor = Ingestor(state: state, indexes: indexes,
                                network: try EfficientNetLite0(weights: weights, batchSize: configuration.batchSize, threads: threads),
                                threads: threads, logger: logger)
        ingestor.decodeOptions = decodeOptions
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            ingestor.probe = DecodeProbe(executable: URL(fileURLWithPath: executable))
        }
        let loop = WatchLoop(configuration: configuration, ingestor: ingestor, progress: progress, paths: paths, logger: logger)
        let refits = RefitScheduler(refitter: Refitter(catalog: catalog, store: store, indexes: indexes, settings: configuration.refit,
                                                       threads: threads, logger: logger),
                                    settings: configuration.refit,
                                    ingestionBusy: { progress.current.scanning || progress.current.pending > 0 }, logger: logger)
        service.attach(indexes: indexes, control: loop, refits: refits)
        loaded.store(true, ordering: .releasing)
        loop.start()
        refits.start()
        logger.notice("ready", metadata: ["items": "\(indexes.cnn.index.count)"])
        Systemd.notify("STATUS=answering; scanning the roots")
        signalled.wait()
        sources.forEach { $0.cancel() }
        logger.info("stopping: finishing the batch in flight")
        progress.advance(to: .draining)
        Systemd.notify("STOPPING=1")
        refits.stop()  // a refit in progress is abandoned; the next start marks its run failed
        if !loop.stop(within: 8) { logger.warning("the batch in flight did not finish in 8 s; the snapshot may miss it (start-up reconciles)") }
        try server.shutdown()
        try loop.writeSnapshot()
        try state.sync()
        if ownsSocketPath { unlink(socketPath) }
        progress.advance(to: .stopped)
        logger.info("stopped", metadata: ["snapshots": "\(paths.root.path)/index-*.hnsw"])
    }
}
