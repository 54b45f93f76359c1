import Foundation
import GRDB
import KindredCore
import KindredTestSupport
import Testing

@testable import KindredStore

@Suite struct CatalogTests {
    func schemaFiles() throws -> [(name: String, sql: String)] {
        let directory = packageRoot.appendingPathComponent("Schema/catalog")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
            .sorted().map {
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
        let catalog = try Catalog(
            url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let reference = try DatabaseQueue()
        try reference.write { db in for file in try schemaFiles() { try db.execute(sql: file.sql) } }
        let expected = try reference.read { db in
            try String.fetchAll(
                db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY sql"
            )
        }
        #expect(try catalog.schemaDefinitions() == expected)
        // Migration 004 rebuilt `items` (AUTOINCREMENT), and SQLite quotes a renamed table's name.
        #expect(expected.contains { $0.hasPrefix("CREATE TABLE \"items\"") && $0.contains("AUTOINCREMENT") })
        #expect(try catalog.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }

    /// A catalog written before migration 004 keeps its items, their ids and what refers to them
    /// (assignments cascade from items, so a careless rebuild would have emptied them).
    @Test func migration004KeepsRowsAndReferences() throws {
        let url = temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite")
        do {
            let old = try DatabaseQueue(path: url.path)
            var migrator = DatabaseMigrator()
            for migration in CatalogSchema.migrations.prefix(3) {
                migrator.registerMigration(migration.name) { try $0.execute(sql: migration.sql) }
            }
            try migrator.migrate(old)
            try old.write { db in
                try db.execute(sql: "INSERT INTO roots (id, path, added_at) VALUES (1, '/art', 1)")
                try db.execute(
                    sql:
                        "INSERT INTO items (id, path, root_id, size, mtime_ns, status, first_seen) VALUES (7, '/art/a.jpg', 1, 1, 1, 'indexed', 1), (9, '/art/b.jpg', 1, 1, 1, 'queued', 1)"
                )
                try db.execute(
                    sql: "INSERT INTO runs (id, started_at, status, algorithm) VALUES (1, 1, 'done', 'hdbscan')")
                try db.execute(sql: "INSERT INTO assignments (run_id, item_id, cluster) VALUES (1, 7, 0), (1, 9, 1)")
            }
        }
        let catalog = try Catalog(url: url, logger: testLogger)
        #expect(try catalog.item(path: "/art/a.jpg")?.id == 7 && catalog.item(path: "/art/b.jpg")?.attempts == 0)
        #expect(try catalog.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM assignments") } == 2)
        try catalog.removeItem(ItemID(9))
        #expect(
            try catalog.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM assignments") } == 1,
            "the cascade still works")
        #expect(try catalog.enqueue(path: "/art/c.jpg", size: 1, mtimeNs: 1).item.id == 10, "9 is not handed out again")
        #expect(try catalog.roots().first?.device == nil)
    }

    @Test func migratingTwiceIsANoOpAndKeepsData() throws {
        let url = temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite")
        let id = try Catalog(url: url, logger: testLogger).enqueue(path: "/a.jpg", size: 1, mtimeNs: 2).item.id
        let reopened = try Catalog(url: url, logger: testLogger)
        #expect(try reopened.item(path: "/a.jpg")?.id == id)
        let applied = try reopened.pool.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(applied == CatalogSchema.migrations.map(\.name))
    }

    /// A catalog a newer build migrated (a migration this build does not know) is refused, for
    /// writing and for reading, with what to do; nothing in it changes. One this build knows still opens.
    @Test func aCatalogANewerBuildMigratedIsRefused() throws {
        let url = temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite")
        do {
            let catalog = try Catalog(url: url, logger: testLogger)
            _ = try catalog.enqueue(path: "/a.jpg", size: 1, mtimeNs: 2)
            try catalog.pool.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('999_from_the_future')")
            }
        }
        func rows() throws -> [String] {
            try DatabaseQueue(path: url.path).read { db in
                try String.fetchAll(db, sql: "SELECT path || ' ' || status FROM items")
                    + String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
                    + String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY sql")
            }
        }
        let before = try rows()
        for readOnly in [false, true] {
            do {
                _ = try Catalog(url: url, readOnly: readOnly, logger: testLogger)
                Issue.record("a newer catalog opened (readOnly: \(readOnly))")
            } catch {
                #expect("\(error)".contains("999_from_the_future") && "\(error)".contains("newer Kindred"), "\(error)")
            }
        }
        #expect(try rows() == before, "the refused catalog is untouched")
        try DatabaseQueue(path: url.path).write {
            try $0.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE '999%'")
        }
        #expect(try Catalog(url: url, logger: testLogger).item(path: "/a.jpg") != nil)
    }

    /// Items with no root of record (preloaded, imported) whose paths a root covers are given
    /// that root once; only what no root covers is outside. A second look finds nothing to do.
    @Test func rootlessItemsUnderARootAreGivenItOnce() throws {
        let catalog = try Catalog(
            url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let art = try catalog.addRoot(CollectionPath("/art"))
        for path in ["/art/a.jpg", "/art/deep/b.jpg", "/artist/c.jpg", "/gone/d.jpg"] {
            _ = try catalog.enqueue(path: path, size: 1, mtimeNs: 1)
        }
        let outside = try catalog.itemsOutsideRoots(try catalog.rootSet())
        let names = try outside.map { try #require(try catalog.item($0)).path }.sorted()
        #expect(names == ["/artist/c.jpg", "/gone/d.jpg"])
        #expect(try catalog.item(path: "/art/a.jpg")?.rootID == art.id)
        #expect(try catalog.item(path: "/art/deep/b.jpg")?.rootID == art.id)
        #expect(try catalog.item(path: "/artist/c.jpg")?.rootID == nil)
        let rootless = try catalog.pool.read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM items WHERE root_id IS NULL") ?? -1
        }
        #expect(rootless == 2)
    }

    @Test func itemLifecycle() throws {
        let catalog = try Catalog(
            url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let root = try catalog.addRoot(CollectionPath("/art"))
        #expect(try catalog.addRoot(CollectionPath("/art")).id == root.id)
        let (item, fresh) = try catalog.enqueue(path: "/art/a.jpg", size: 10, mtimeNs: 5, rootID: root.id, at: 1000)
        #expect(fresh && item.status == .queued && item.firstSeen == 1000)
        let id = try #require(item.itemID)
        #expect(
            try catalog.enqueue(path: "/art/a.jpg", size: 10, mtimeNs: 5).needsExtraction,
            "still queued, so still needs work")
        try catalog.markIndexed(id, contentHash: "ab12", width: 640, height: 480, format: "jpeg", at: 1001)
        #expect(try !catalog.enqueue(path: "/art/a.jpg", size: 10, mtimeNs: 5).needsExtraction)
        #expect(try catalog.enqueue(path: "/art/a.jpg", size: 11, mtimeNs: 6).needsExtraction)
        try catalog.markFailed(id, error: "truncated JPEG data at byte 81920")
        let failed = try #require(try catalog.item(id))
        #expect(
            failed.status == .failed && failed.error == "truncated JPEG data at byte 81920"
                && failed.contentHash == "ab12")
        try catalog.move(id, to: "/art/b.jpg")
        #expect(try catalog.item(path: "/art/b.jpg")?.id == item.id)
        #expect(try catalog.statusCounts() == [.queued: 0, .indexed: 0, .failed: 1])
        #expect(try catalog.removeItem(id))
        #expect(try catalog.itemIDs().isEmpty)
        #expect(try catalog.removeRoot(CollectionPath("/art")))
        #expect(try catalog.roots().isEmpty)
    }

    /// Prefix queries compare bytes: a folder with accents finds exactly its items (the old
    /// query compared a UTF-8 byte count with characters and missed them), `/art` never matches
    /// `/artist`, and the NFD spelling of a name is a different folder, as on disk.
    @Test func itemsUnderADirectoryAreFoundByteForByte() throws {
        let catalog = try Catalog(
            url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let nfc = "/art/Mus\u{E9}e", nfd = "/art/Muse\u{301}e"
        let paths = [
            nfc + "/a.jpg", nfc + "/deeper/b.png", nfd + "/c.jpg", "/art/Mus\u{E9}e0/d.jpg", "/artist/e.jpg",
            "/art/f.jpg", nfc + ".jpg",
        ]
        var ids: [String: UInt64] = [:]
        for path in paths {
            ids[path] = try #require(try catalog.enqueue(path: path, size: 1, mtimeNs: 1).item.itemID).rawValue
        }
        #expect(try catalog.itemIDs(under: CollectionPath(nfc)) == [ids[nfc + "/a.jpg"]!, ids[nfc + "/deeper/b.png"]!])
        #expect(try catalog.itemIDs(under: CollectionPath(nfd)) == [ids[nfd + "/c.jpg"]!])
        #expect(try catalog.itemIDs(under: CollectionPath("/art")).count == 6)
        #expect(try catalog.itemIDs(under: CollectionPath("/")).count == paths.count)
        // Whether a folder holds every item, without counting: only "/" does here; "/art" misses
        // "/artist/e.jpg", the first path after its range, and a catalog of one folder's items
        // is held by that folder, not by a sibling or a folder inside it.
        #expect(try catalog.everyItemIsUnder(CollectionPath("/")))
        #expect(try !catalog.everyItemIsUnder(CollectionPath("/art")))
        #expect(try !catalog.everyItemIsUnder(CollectionPath(nfc)))
        let one = try Catalog(
            url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        for name in ["a.jpg", "b/c.jpg"] { _ = try one.enqueue(path: nfd + "/" + name, size: 1, mtimeNs: 1) }
        #expect(try one.everyItemIsUnder(CollectionPath(nfd)))
        #expect(try one.everyItemIsUnder(CollectionPath("/art")))
        #expect(try !one.everyItemIsUnder(CollectionPath(nfc)))
        #expect(try !one.everyItemIsUnder(CollectionPath(nfd + "/b")))
        #expect(try !one.everyItemIsUnder(CollectionPath("/artist")))
        #expect(try catalog.itemIDs(under: CollectionPath("/art"), limit: 4).count == 4)
    }

    /// A deleted item's id is never handed to a new file, even when it was the largest.
    @Test func idsAreNeverReused() throws {
        let catalog = try Catalog(
            url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let first = try #require(try catalog.enqueue(path: "/a.jpg", size: 1, mtimeNs: 1).item.itemID)
        let second = try #require(try catalog.enqueue(path: "/b.jpg", size: 1, mtimeNs: 1).item.itemID)
        try catalog.removeItem(second)
        let third = try #require(try catalog.enqueue(path: "/c.jpg", size: 1, mtimeNs: 1).item.itemID)
        #expect(third > second && second > first)
    }

    /// The attempt count rises before each decode and clears with an outcome or a change.
    @Test func attemptsAreCountedUntilAnOutcome() throws {
        let catalog = try Catalog(
            url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let id = try #require(try catalog.enqueue(path: "/a.jpg", size: 1, mtimeNs: 1).item.itemID)
        try catalog.markAttempted([id])
        try catalog.markAttempted([id])
        #expect(try catalog.item(id)?.attempts == 2)
        #expect(
            try catalog.enqueue(path: "/a.jpg", size: 1, mtimeNs: 1).item.attempts == 2, "unchanged: the count stays")
        #expect(try catalog.enqueue(path: "/a.jpg", size: 2, mtimeNs: 1).item.attempts == 0, "changed: a fresh start")
        try catalog.markAttempted([id])
        try catalog.markFailed(id, error: "x")
        #expect(try catalog.item(id)?.attempts == 0)
        try catalog.markAttempted([id])
        try catalog.markIndexed(id, contentHash: "h", width: 1, height: 1, format: "png")
        #expect(try catalog.item(id)?.attempts == 0)
    }

    @Test func constraintsHoldForUsersWritingSQL() throws {
        let catalog = try Catalog(
            url: temporaryDirectory("catalog").appendingPathComponent("catalog.sqlite"), logger: testLogger)
        _ = try catalog.enqueue(path: "/a.jpg", size: 1, mtimeNs: 1)
        #expect { try catalog.pool.write { try $0.execute(sql: "UPDATE items SET status = 'done'") } } throws: {
            error in
            (error as? DatabaseError)?.resultCode == .SQLITE_CONSTRAINT
        }
        #expect(throws: DatabaseError.self) {
            try catalog.pool.write {
                try $0.execute(sql: "INSERT INTO assignments (run_id, item_id, cluster) VALUES (99, 99, 0)")
            }
        }
    }
}

@Suite struct StateRepairTests {
    @Test func orphansAreDeletedAndIndexedItemsWithoutVectorsRequeued() throws {
        let directory = temporaryDirectory("repair")
        let catalog = try Catalog(url: directory.appendingPathComponent("catalog.sqlite"), logger: testLogger)
        let spaces = [
            VectorSpace(name: "cnn", dimension: 4), VectorSpace(name: "phash", dimension: 8, element: .uint8),
        ]
        let store = try VectorStore(
            directory: directory.appendingPathComponent("vectors"), spaces: spaces, logger: testLogger)
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

        let report = try StateRepair.run(
            catalog: catalog, store: store, requiredSpaces: ["cnn", "phash"], logger: testLogger)
        #expect(report.orphanVectorsDeleted == 2)
        #expect(report.itemsRequeued == 1)
        #expect(try catalog.item(b)?.status == .queued)
        #expect(try catalog.item(a)?.status == .indexed)
        #expect(try store.ids(space: "cnn") == [a, b, c])
        #expect(
            try StateRepair.run(catalog: catalog, store: store, requiredSpaces: ["cnn", "phash"], logger: testLogger)
                == RepairReport())
    }
}
