import ArgumentParser
import Dispatch
import Foundation
import KindredCore
import KindredEngine
import KindredFeatures
import KindredProtocol
import KindredServer
import Logging

/// The daemon. It opens the state directory (repairing what an unclean stop left, Schema/lmdb.md),
/// loads its index, answers the socket protocol (Schema/protocol.md), ingests every image under the
/// watched roots in the background, then follows them with inotify.
@main
struct Kindredd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kindredd",
        abstract:
            "The Kindred daemon: keeps an image collection's vectors, catalog and index, and answers on a Unix socket.",
        version: KindredVersion.string
    )

    @Option(name: .customLong("config"), help: "A TOML configuration file (Schema/kindred.toml documents every key).")
    var configFile: String?

    @Option(
        name: .customLong("state"),
        help: "The state directory (default: $STATE_DIRECTORY, else $XDG_STATE_HOME/kindred).")
    var stateDirectory: String?

    @Option(
        name: .customLong("watch"),
        help: "A directory of images to keep indexed; repeat for several. Remembered in the catalog.")
    var watch: [String] = []

    @Option(
        name: .customLong("socket"),
        help: "The socket path (default: $RUNTIME_DIRECTORY or $XDG_RUNTIME_DIR/kindred/kindred.sock).")
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
        Self.raiseFileLimit()
        let configuration = try configuration()
        let logger = { () -> Logger in
            var logger = Logger(label: "kindredd") { LineSafeLogHandler(StreamLogHandler.standardError(label: $0)) }
            logger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
            return logger
        }()

        let settings = configuration.collectionSettings
        if let fallback = configuration.cnnPrecision.onThisCPU.fallback { logger.warning("\(fallback)") }
        let paths = StatePaths.resolve(explicit: configuration.stateDirectory)
        // Before anything in the state is opened: one writer per state directory.
        let lock: StateLock
        do { lock = try StateLock.acquire(paths, holder: "kindredd") } catch { throw ValidationError("\(error)") }
        defer { withExtendedLifetime(lock) {} }
        let collection: Collection
        do {
            collection = try Collection(paths: paths, settings: settings, roots: configuration.roots, logger: logger)
        } catch let error as PathError {
            throw ValidationError("watch root \(error)")
        }
        let weights = try ModelFiles.load(from: paths)
        let service = CommandService(
            catalog: collection.catalog, store: collection.store,
            // A query image runs alone, so its layers split over every core (bit-identical to
            // one thread's result): SIMILAR-IMAGE's latency goes down with the cores.
            network: try StandardSpaces.network(
                weights: weights, batchSize: 1, threads: configuration.effectiveThreads,
                precision: settings.cnnPrecision),
            progress: collection.progress, efSearch: configuration.efSearch, fusion: configuration.fusion,
            policy: AccessPolicy(configuration),
            decodeOptions: settings.decode, logger: logger)
        let server = SocketServer(service: service, limits: SocketServer.Limits(configuration), logger: logger)
        let socketPath = SocketPath.resolve(explicit: configuration.socket)
        // A socket systemd passed (LISTEN_FDS) is systemd's: kindredd never unlinks its path, or
        // socket activation would break after the first restart.
        let inherited = Systemd.listeningSocket()
        let ownsSocketPath = inherited == nil
        _ = try server.start(path: socketPath, inheritedSocket: inherited)
        Self.feedWatchdog(server)

        // Signals: until the indexes are loaded nothing has changed on disk, so a stop then is an
        // immediate exit; afterwards the main thread stops the ingestion thread and snapshots.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let signalled = DispatchSemaphore(value: 0)
        let sources = [SIGTERM, SIGINT].map { (number: Int32) -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if collection.progress.current.phase < .scanning {
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
        logger.notice(
            "answering; loading the index", metadata: ["socket": "\(socketPath)", "state": "\(paths.root.path)"])
        Systemd.notify("READY=1\nSTATUS=answering; loading the index")

        let probe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map {
            DecodeProbe(executable: URL(fileURLWithPath: $0))
        }
        let running = try collection.load(weights: weights, probe: probe, report: { Systemd.notify("STATUS=" + $0) })
        service.attach(indexes: running.indexes, control: running.loop, refits: running.refits)
        collection.start()
        logger.notice("ready", metadata: ["items": "\(running.indexes.cnn.index.count)"])
        Systemd.notify("STATUS=answering; scanning the roots")
        signalled.wait()
        sources.forEach { $0.cancel() }
        logger.info("stopping: finishing the batch in flight")
        Systemd.notify("STOPPING=1")
        try collection.stop(within: 8)  // answers queued BACKUPs (refused) before the connections close
        try server.shutdown()
        if ownsSocketPath { unlink(socketPath) }
        logger.info("stopped", metadata: ["snapshots": "\(paths.root.path)/index-*.hnsw"])
    }

    /// Each client is a file descriptor; take all the kernel allows this process (systemd's
    /// default soft limit is 1,024).
    static func raiseFileLimit() {
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    /// Pings systemd's watchdog (when it set one) while the event loop answers.
    static func feedWatchdog(_ server: SocketServer) {
        guard let interval = Systemd.watchdogInterval() else { return }
        Thread {
            while true {
                Thread.sleep(forTimeInterval: interval)
                if server.isResponsive() { Systemd.notify("WATCHDOG=1") }
            }
        }.start()
    }
}
