import ArgumentParser

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build and search HNSW indexes offline on .npy files.",
        subcommands: []
    )
}
