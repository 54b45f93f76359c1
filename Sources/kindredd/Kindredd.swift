import ArgumentParser
import Dispatch
import Foundation
import KindredCore
import KindredStore
import Logging

/// The daemon. At this stage it owns the state directory: it opens the vector store and the
/// catalog, repairs whatever an unclean stop left (Schema/lmdb.md), and holds them until SIGTERM
/// or SIGINT. Watching, ingestion and the socket protocol build on this.
@main
struct Kindredd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kindredd",
        abstract: "The Kindred daemon: keeps an image collection's vectors, catalog and index.",
        version: KindredVersion.string
    )

    @Option(name: .customLong("state"), help: "The state directory (default: $STATE_DIRECTORY, else $XDG_STATE_HOME/kindred).")
    var stateDirectory: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
        var logger = Logger(label: "kindredd") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level

        let paths = StatePaths.resolve(explicit: stateDirectory)
        try paths.create()
        let store = try VectorStore(directory: paths.vectors, spaces: [], includeRegistered: true, logger: logger)
        let catalog = try Catalog(url: paths.catalog, logger: logger)
        let report = try StateRepair.run(catalog: catalog, store: store, requiredSpaces: Array(store.spaces.keys), logger: logger)
        let counts = try catalog.statusCounts()
        logger.info("ready", metadata: [
            "state": "\(paths.root.path)", "indexed": "\(counts[.indexed]!)", "queued": "\(counts[.queued]!)",
            "failed": "\(counts[.failed]!)", "repaired": "\(report != RepairReport())",
        ])

        // Block the signals for every thread, then take them from a dispatch source.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let stop = DispatchSemaphore(value: 0)
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }
        stop.wait()
        sources.forEach { $0.cancel() }
        logger.info("stopping")
        try store.environment.sync()
    }
}
