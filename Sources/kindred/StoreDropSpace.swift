import ArgumentParser
import KindredStore

struct StoreDropSpace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop-space",
        abstract: "Delete a vector space and all its vectors.",
        discussion:
            "Use it when a space must change shape (a new model with another dimension). Refused while kindredd runs on the state."
    )

    @OptionGroup var state: StateOptions
    @OptionGroup var logging: LoggingOptions
    @Argument(help: "The space to delete.") var space: String

    func run() throws {
        let lock = try state.lockForWriting("store drop-space")
        defer { withExtendedLifetime(lock) {} }
        let store = try VectorStore(directory: state.paths.vectors, spaces: [], logger: logging.logger("kindred.store"))
        guard try store.registeredSpaces().contains(where: { $0.name == space }) else {
            throw ValidationError("no space named \(space) in \(state.paths.vectors.path)")
        }
        let removed = try store.dropSpace(space)
        print("dropped space \(space) with \(removed) vectors")
    }
}
