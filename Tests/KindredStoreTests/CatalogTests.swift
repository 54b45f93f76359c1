import Foundation
import GRDB
import KindredCore
@testable import KindredStore
import Testing

@Suite struct CatalogTests {
    func schemaFiles() throws -> [(name: String, sql: String)] {
        let directory = packageRoot.appendingPathComponent("Schema/catalog")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted().map {
            (String($0.dropLast(4)), try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8))
        }
    }

    @Test func embeddedMigrationsAreExactlySchemaFiles() throws {
        let files = try schemaFiles()
        #expect(!files.isEmpty)
        #expect(files.map(\.name) == CatalogSchema.migrations.map(\.name), "run scripts/embed-schema.sh")
        for (file, embedded) in zip(files, CatalogSchema.migrations) {
            #expect(file.sql == embedded.sql, "Schema/catalog/\(file.name).sql changed: run scripts/embed-schema.sh")
        }
    }

    @Test func runningSchemaMatchesSchemaAppliedByHand() throws {
        let catalog = try Catalog(url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let reference = try DatabaseQueue()
        try reference.write { db in for file in try schemaFiles() { try db.execute(sql: file.sql) } }
        let expected = try reference.read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY sql")
        }
        #expect(try catalog.schemaDefinitions() == expected)
        #expect(expected.contains { $0.hasPrefix("CREATE TABLE items") })
        #expect(try catalog.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }

    @Test func migratingTwiceIsANoOpAndKeepsData() throws {
        let url = temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite")
        let id = try Catalog(url: url, logger: testLogger).enqueue(path: "/a.jpg", size: 1, mtimeNs: 2).item.id
        let reopened = try Catalog(url: url, logger: testLogger)
        #expect(try reopened.item(path: "/a.jpg")?.id == id)
        let applied = try reopened.pool.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(applied == CatalogSchema.migrations.map(\.name))
    }

    @Test func itemLifecycle() throws {
        let catalog = try Catalog(url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let root = try catalog.addRoot("/art")
        #expect(try catalog.addRoot("/art").id == root.id)
        let (item, fresh) = try catalog.enqueue(path: "/art/a.jpg", size: 10, mtimeNs: 5, rootID: root.id, at: 1000)
        #expect(fresh && item.status == .queued && item.firstSeen == 1000)
        let id = try #require(item.itemID)
        #expect(try catalog.enqueue(path: "/art/a.jpg", size: 10, mtimeNs: 5).needsExtraction, "still queued, so still needs work")
        try catalog.markIndexed(id, contentHash: "ab12", width: 640, height: 480, format: "jpeg", at: 1001)
        #expect(try !catalog.enqueue(path: "/art/a.jpg", size: 10, mtimeNs: 5).needsExtraction)
        #expect(try catalog.enqueue(path: "/art/a.jpg", size: 11, mtimeNs: 6).needsExtraction)
        try catalog.markFailed(id, error: "truncated JPEG data at byte 81920")
        let failed = try #require(try catalog.item(id))
        #expect(failed.status == .failed && failed.error == "truncated JPEG data at byte 81920" && failed.contentHash == "ab12")
        try catalog.move(id, to: "/art/b.jpg")
        #expect(try catalog.item(path: "/art/b.jpg")?.id == item.id)
        #expect(try catalog.statusCounts() == [.queued: 0, .indexed: 0, .failed: 1])
        #expect(try catalog.removeItem(id))
        #expect(try catalog.itemIDs().isEmpty)
        #expect(try catalog.removeRoot("/art"))
        #expect(try catalog.roots().isEmpty)
    }

    @Test func constraintsHoldForUsersWritingSQL() throws {
        let catalog = try Catalog(url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        _ = try catalog.enqueue(path: "/a.jpg", size: 1, mtimeNs: 1)
        #expect { try catalog.pool.write { try $0.execute(sql: "UPDATE items SET status = 'done'") } } throws: { error in
            (error as? DatabaseError)?.resultCode == .SQLITE_CONSTRAINT
        }
        #expect(throws: DatabaseError.self) {
            try catalog.pool.write { try $0.execute(sql: "INSERT INTO assignments (run_id, item_id, cluster) VALUES (99, 99, 0)") }
        }
    }
}

@Suite struct StateRepairTests {
    @Test func orphansAreDeletedAndIndexedItemsWithoutVectorsRequeued() throws {
        let directory = temporaryDirectory("repair")
        let catalog = try Catalog(url: directory.appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let spaces = [VectorSpace(name: "cnn", dimension: 4), VectorSpace(name: "phash", dimension: 8, element: .uint8)]
        let store = try VectorStore(directory: directory.appendingPathComponent("vectors"), spaces: spaces, logger: testLogger)
        let a = try #require(catalog.enqueue(path: "/a", size: 1, mtimeNs: 1).item.itemID)
        let b = try #require(catalog.enqueue(path: "/b", size: 1, mtimeNs: 1).item.itemID)
        let c = try #require(catalog.enqueue(path: "/c", size: 1, mtimeNs: 1).item.itemID)
        try store.write { batch throws(VectorStoreError) in
            for id in [a, c, ItemID(777)] {
                try batch.put(id, [Float](repeating: 1, count: 4), space: "cnn")
                try batch.put(id, [UInt8](repeating: 1, count: 8), space: "phash")
            }
            try batch.put(b, [Float](repeating: 1, count: 4), space: "cnn")  // crash before phash
        }
        for id in [a, b] { try catalog.markIndexed(id, contentHash: "h", width: 1, height: 1, format: "png") }
        // c stays queued with vectors: a crash between steps 2 and 3; re-extraction overwrites.

        let report = try StateRepair.run(catalog: catalog, store: store, requiredSpaces: ["cnn", "phash"], logger: testLogger)
        #expect(report.orphanVectorsDeleted == 2)
        #expect(report.itemsRequeued == 1)
        #expect(try catalog.item(b)?.status == .queued)
        #expect(try catalog.item(a)?.status == .indexed)
        #expect(try store.ids(space: "cnn") == [a, b, c])
        #expect(try StateRepair.run(catalog: catalog, store: store, requiredSpaces: ["cnn", "phash"], logger: testLogger) == RepairReport())
    }
}
