import ArgumentParser
import Foundation

struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask kindredd for the images most similar to a file or an item id.",
        discussion: """
            A file in the collection is looked up by path (SIMILAR); any other file is sent to kindredd as bytes \
            (SIMILAR-IMAGE), so the daemon never opens files on a client's behalf. Prints rank, score (cosine \
            similarity), id and path. Exit status: 0 answered, 1 refused (the reason on stderr), 2 kindredd not running.
            """
    )

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "A file in the collection, or an item id.") var target: String
    @Option(name: .short, help: "How many neighbours.") var k = 10
    @Option(help: "cnn (the default) or style.") var space = "cnn"

    func run() throws {
        let header = ["rank", "score", "id", "path"]
        if target.allSatisfy(\.isNumber) {
            return try daemon.ask("SIMILAR \(target) k=\(k) space=\(space)", header: header)
        }
        let answer = try askSimilar(daemon, file: target, k: k, space: space)
        try daemon.show(answer, header: header)
    }
}

/// SIMILAR for a file: by path when it is in the collection, else as bytes (SIMILAR-IMAGE), so
/// kindredd never opens a file on a client's behalf. Returns the answer's lines.
func askSimilar(_ daemon: DaemonOptions, file: String, k: Int, space: String) throws -> [String] {
    let path = absolute(file)
    let client = try daemon.connect()
    if daemon.json { _ = try client.send("FORMAT json") }
    let answer = try client.send("SIMILAR \(quoted(path)) k=\(k) space=\(space)", json: daemon.json)
    let outside = ["not-found", "forbidden"].contains { answer[0].hasPrefix("ERR \($0)") || answer[0].contains(#""error":"\#($0)""#) }
    guard outside else { return answer }
    let bytes: Data
    do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw ValidationError("cannot read \(path): \(error.localizedDescription)")
    }
    return try client.send("SIMILAR-IMAGE \(bytes.count) k=\(k) space=\(space)", payload: Array(bytes), json: daemon.json)
}
