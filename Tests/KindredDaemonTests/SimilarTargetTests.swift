import Foundation
import KindredCore
import KindredEngine
import KindredProtocol
import KindredServer
import KindredStore
import KindredTestSupport
import Testing

/// What SIMILAR says of a target that may not be queried, in every ranking, by id and by path:
/// an unknown id, a file that failed, a changed file waiting to be extracted again (its older
/// vectors still stored), and a new file not extracted yet. The target's standing is read with the
/// answer's paths (`CommandService.paths(of:target:)`), after the search, so these are the refusals
/// that reading must give, as a lookup first does.
@Suite struct SimilarTargetTests {
    @Test func targetsThatMayNotBeQueriedAreRefusedWithTheirReason() throws {
        let c = try IngestFixture.ingested()
        let service = CommandService(
            catalog: c.catalog, store: c.store, indexes: c.ingestor.indexes, logger: testLogger)
        let failed = try #require(try c.catalog.item(path: c.images.appendingPathComponent("notes.jpg").path))
        #expect(failed.status == .failed)
        // art1.jpg changes on disk: back to the queue, its older vectors kept until it is read again.
        let changed = try #require(try c.catalog.item(path: c.images.appendingPathComponent("art1.jpg").path))
        let (requeued, _) = try c.catalog.enqueue(path: changed.path, size: changed.size + 1, mtimeNs: changed.mtimeNs)
        #expect(requeued.status == .queued)
        #expect(try c.store.vector(try #require(changed.itemID), space: "cnn") != nil, "its older vectors are kept")
        let fresh = try c.catalog.enqueue(path: c.images.appendingPathComponent("new.jpg").path, size: 1, mtimeNs: 1)
            .item

        let (failedID, changedID, freshID) = (
            try #require(failed.id), try #require(changed.id), try #require(fresh.id)
        )
        let cases: [(target: String, code: ProtocolError.Code, message: String)] = [
            ("999999", .notFound, "no item with id 999999"),
            (String(failedID), .notFound, "\(failed.path) could not be read: "),
            ("\"\(failed.path)\"", .notFound, "\(failed.path) could not be read: "),
            (String(changedID), .unavailable, "\(changed.path) is not indexed yet"),
            ("\"\(changed.path)\"", .unavailable, "\(changed.path) is not indexed yet"),
            (String(freshID), .unavailable, "\(fresh.path) is not indexed yet"),
        ]
        let parser = RequestParser()
        for (target, code, message) in cases {
            for space in ["cnn", "style", "fused"] {
                let line = "SIMILAR \(target) k=3 space=\(space)"
                guard case .failure(let error) = service.answer(try parser.parse(line)) else {
                    Issue.record("\(line) answered")
                    continue
                }
                #expect(error.code == code && error.message.hasPrefix(message), "\(line): \(error)")
            }
        }
        // An indexed target still answers, by id and by path, in every ranking.
        let indexed = try #require(try c.catalog.item(path: c.images.appendingPathComponent("art2.png").path))
        for target in [String(try #require(indexed.id)), "\"\(indexed.path)\""] {
            for space in ["cnn", "style", "fused"] {
                let answer = service.answer(try parser.parse("SIMILAR \(target) k=3 space=\(space)"))
                #expect(try answer.get().rows.count == 3, "\(target) \(space): \(answer)")
            }
        }
    }
}
