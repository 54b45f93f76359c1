import ArgumentParser

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Inspect the vector store, and move vectors in and out of it as .npy files.",
        subcommands: [StoreInfo.self, StoreImport.self, StoreExport.self, StoreDropSpace.self]
    )
}
