import ArgumentParser
import Foundation
import KindredCore
import KindredIndex

struct IndexCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract:
            "Load an index and verify its structure: links in range, no self or duplicate links, every live node reachable."
    )

    @OptionGroup var logging: LoggingOptions
    @Option(help: "The index file.") var index: String

    func run() throws {
        let started = ContinuousClock.now
        let hnsw = try HNSWIndex.load(from: URL(fileURLWithPath: index), logger: logging.logger("kindred.index"))
        // What a restart of kindredd spends on this file (read, checksum, structure checks).
        let loaded = (ContinuousClock.now - started) / .seconds(1)
        try hnsw.checkIntegrity()
        print(
            "ok: \(hnsw.count) live nodes, \(hnsw.deletedCount) deleted awaiting compaction; format version "
                + "\(hnsw.loadedFormatVersion ?? 0), loaded in \(loaded.fixed(3)) s")
    }
}
