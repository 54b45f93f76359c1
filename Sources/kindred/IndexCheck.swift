import ArgumentParser
import Foundation
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
        let hnsw = try HNSWIndex.load(from: URL(fileURLWithPath: index), logger: logging.logger("kindred.index"))
        try hnsw.checkIntegrity()
        print("ok: \(hnsw.count) live nodes, \(hnsw.deletedCount) deleted awaiting compaction")
    }
}
