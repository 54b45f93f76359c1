import ArgumentParser
import Foundation
import KindredCore
import KindredProtocol

extension Ranking: ExpressibleByArgument {}

struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask kindredd for the images most similar to a file or an item id.",
        discussion: """
            A file in the collection is looked up by path (SIMILAR); any other file is sent to kindredd as bytes \
            (SIMILAR-IMAGE), so the daemon never opens files on a client's behalf. Prints rank, score, id and path: \
            by default the fused ranking (CNN, style, perceptual hash and thumbnails together, \
            Schema/protocol.md), with --space cnn or style one space's cosine similarity. --explain adds each \
            term's part of the score (cnn, style, phash and, last, region: they add up to it), the hashes' \
            differing bits, the term that gave most, and whether the query was expanded (its cnn term then \
            compares the neighbour with the mean of the query and its best matches, Schema/kindred.toml \
            [similar]). region is how well the query's picture lies inside the neighbour's, so a crop finds \
            the picture it was cut from. \
            Exit status: 0 answered, 1 refused (the reason on stderr), 2 kindredd not running.
            """
    )

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "A file in the collection, or an item id.") var target: String
    @Option(name: .short, help: "How many neighbours.") var k = 10
    @Option(help: "fused (the default), cnn or style.") var space: Ranking = .fused
    @Flag(help: "Add each term's part of the score.") var explain = false

    func run() throws {
        let query = SimilarQuery(k: k, ranking: space, explain: explain)
        let header =
            ["rank", "score", "id", "path"]
            + (explain ? SimilarQuery.explainColumns : [])
        if let id = ItemID(validating: target) {
            return try daemon.ask(.similar(.id(id), query, within: nil), header: header)
        }
        let (client, request, payload) = try similarRequest(daemon, file: target, query)
        guard daemon.json else { return try daemon.show(try client.ask(request, payload: payload), header: header) }
        try daemon.showJSON(try client.askWithColumns(request, payload: payload))
    }
}

/// SIMILAR for a file: by path when it is in the collection, else as bytes (SIMILAR-IMAGE), so
/// kindredd never opens a file on a client's behalf. Returns the request that applies, on the
/// connection it was decided on.
func similarRequest(
    _ daemon: DaemonOptions, file: String, _ query: SimilarQuery
) throws -> (SocketClient, Request, [UInt8]) {
    let path = absolute(file)
    let client = try daemon.connect()
    let byPath = Request.similar(.path(path), query, within: nil)
    guard case .failure(let refusal) = try client.ask(.info(.path(path))),
        [.notFound, .forbidden].contains(refusal.code)
    else {
        return (client, byPath, [])
    }
    let bytes: Data
    do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw ValidationError("cannot read \(path): \(error.localizedDescription)")
    }
    return (client, .similarImage(byteCount: bytes.count, query), Array(bytes))
}
