import ArgumentParser
import KindredIndex

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build, search and check HNSW indexes offline on .npy files.",
        subcommands: [IndexBuild.self, IndexSearch.self, IndexCheck.self, IndexChurn.self, IndexReencode.self]
    )
}

extension Metric: ExpressibleByArgument {}
