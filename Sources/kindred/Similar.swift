import ArgumentParser
import Foundation

struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask kindredd for the images most similar to a collection file or an item id.",
        discussion: "Prints rank, score (cosine similarity), id and path. Exit status: 0 answered, 1 refused (the reason on stderr), 2 kindredd not running."
    )

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "A file in the collection, or an item id.") var target: String
    @Option(name: .short, help: "How many neighbours.") var k = 10
    @Option(help: "cnn (the default) or style.") var space = "cnn"

    func run() throws {
        let subject = target.allSatisfy(\.isNumber) ? target : URL(fileURLWithPath: target).standardizedFileURL.path
        try daemon.ask("SIMILAR \(quoted(subject)) k=\(k) space=\(space)", header: ["rank", "score", "id", "path"])
    }
}
