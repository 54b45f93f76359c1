import Foundation
import KindredCore
import KindredEngine
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredProtocol
import KindredServer
import KindredStore
import KindredTestSupport
import Testing

/// The protocol through a real Unix socket, against a collection ingested by the real pipeline.
@Suite struct SocketTests {
    @Test func answersOverTheSocketAgreeWithExactSearch() throws {
        let c = try IngestFixture.ingested()
        let service = CommandService(
            catalog: c.catalog, store: c.store, indexes: c.ingestor.indexes,
            network: try StandardSpaces.network(weights: convertedWeights, batchSize: 1, threads: 1), logger: testLogger
        )
        var limits = SocketServer.Limits()
        limits.maxLineLength = 1024
        let server = SocketServer(service: service, limits: limits, logger: testLogger)
        let path = c.root.appendingPathComponent("k.sock").path
        _ = try server.start(path: path)
        defer { try? server.shutdown() }
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o660)

        let client = try SocketClient(path: path)
        #expect(try client.send("PING") == ["OK 1", "pong"])
        // The client sees who answers (what `kindred bench load` reads the daemon's CPU time by).
        #expect(client.peer?.pid == getpid() && client.peer?.uid == getuid())

        // SIMILAR by path in the CNN space: the other five images, ranked as exact search ranks them.
        let query = c.images.appendingPathComponent("art1.jpg").path
        let answer = try client.send(#"SIMILAR "\#(query)" k=5 space=cnn"#)
        #expect(answer.first == "OK 5")
        let rows = answer.dropFirst().map { $0.split(separator: "\t").map(String.init) }
        let (ids, matrix) = try c.store.readMatrix(space: "cnn")
        let queryID = try #require(try c.catalog.item(path: query)?.itemID)
        let queryVector = try #require(try c.store.vector(queryID, space: "cnn"))
        let exact = try ExactSearch.search(
            base: matrix, queries: Matrix(rows: 1, columns: 1280, storage: queryVector), k: 6, metric: .cosine)[0]
            .map { ids[Int($0.label)].rawValue }.filter { $0 != queryID.rawValue }
        #expect(rows.map { UInt64($0[2])! } == Array(exact.prefix(5)))
        #expect(rows.allSatisfy { $0.count == 4 && Float($0[1])! <= 1 && $0[3].hasPrefix(c.images.path) })

        // Restricted to a folder, and by id.
        let within = try client.send(#"SIMILAR \#(queryID.rawValue) k=5 within="prefix:\#(c.images.path)/sub dir""#)
        #expect(within.count == 2 && within[1].hasSuffix("sub dir/art6.webp"))

        // An image from outside the collection, sent as bytes: a copy of art4 finds art4 first.
        let outside = try Data(contentsOf: c.images.appendingPathComponent("art4.jpg"))
        let byImage = try client.send("SIMILAR-IMAGE \(outside.count) k=3", payload: Array(outside))
        #expect(
            byImage.count == 4 && byImage[1].hasSuffix("/art4.jpg") && byImage[1].split(separator: "\t")[1] == "1.0000",
            "\(byImage)")
        let garbage = Array("not an image, just bytes".utf8)
        #expect(
            try client.send("SIMILAR-IMAGE \(garbage.count)", payload: garbage) == [
                "ERR bad-request \(ImageFormat.unrecognisedReason)"
            ])
        #expect(try client.send("PING") == ["OK 1", "pong"], "line framing resumes after the bytes")

        // Errors: precise, and the connection stays usable; pipelined requests are answered in order.
        #expect(try client.send("SIMILAR /etc/passwd") == ["ERR forbidden /etc/passwd is outside the watched roots"])
        #expect(try client.send("FROB")[0].hasPrefix("ERR unknown-verb"))
        #expect(try client.send("SIMILAR \(c.images.path)/notes.jpg")[0].hasPrefix("ERR not-found"))
        #expect(
            try client.send("PING " + String(repeating: "x", count: 5000)) == [
                "ERR too-long request line of 5005 bytes exceeds the 1024-byte limit"
            ])
        #expect(try client.send("STATUS").contains("indexed\t6"))
        #expect(try client.send("ERRORS").count == 3)
        #expect(
            try client.send("FORMAT json") == [#"{"columns":["format"],"ok":true,"rows":[["json"]]}"#],
            "answered in the new format")
        let json = try client.send("INFO \(queryID.rawValue)", json: true)[0]
        #expect(json.hasPrefix(#"{"columns":["key","value"],"ok":true"#) && json.contains(#"["format","jpeg"]"#))
        #expect(try client.send("QUIT", json: true) == [#"{"columns":[],"ok":true,"rows":[]}"#])

        // A second client is unaffected by the first's format.
        #expect(try SocketClient(path: path).send("PING") == ["OK 1", "pong"])
        #expect { try SocketClient(path: c.root.appendingPathComponent("none.sock").path) } throws: {
            "\($0)".contains("kindredd is not running")
        }
    }
}
