import KindredCore
import Logging

/// What start-up repair found and fixed.
public struct RepairReport: Sendable, Equatable {
    /// Vector records whose item has no catalog row, or a failed one (a crash between the row
    /// changing and its vectors going).
    public var orphanVectorsDeleted = 0
    /// Items marked indexed that lack a vector in a required space; they go back to the queue.
    public var itemsRequeued = 0
    public init() {}
}

/// Restores the invariant between the catalog and the vector store after a crash, following the
/// commit order in Schema/lmdb.md:
///   - an `indexed` row has a vector in every required space;
///   - every vector has a row, and no `failed` row has vectors (a file that changed into an
///     unreadable one is marked failed first, then its old vectors go).
/// A `queued` row may or may not have vectors; re-extraction overwrites them.
enum StateRepair {
    public static func run(
        catalog: Catalog, store: VectorStore, requiredSpaces: [String], logger: Logger
    ) throws -> RepairReport {
        var report = RepairReport()
        let known = Set(try catalog.itemIDs()).subtracting(try catalog.itemIDs(status: .failed))
        var orphans = Set<ItemID>()
        var present: [String: Set<ItemID>] = [:]
        for space in store.spaces.keys {
            let ids = try store.ids(space: space)
            present[space] = Set(ids)
            orphans.formUnion(ids.lazy.filter { !known.contains($0) })
        }
        if !orphans.isEmpty {
            try store.write { batch throws(VectorStoreError) in
                for id in orphans { report.orphanVectorsDeleted += try batch.delete(id) }
            }
        }
        for id in try catalog.itemIDs(status: .indexed)
        where requiredSpaces.contains(where: { present[$0]?.contains(id) != true }) {
            _ = try catalog.enqueueAgain(id)
            report.itemsRequeued += 1
        }
        if report != RepairReport() {
            logger.notice(
                "repaired state after an unclean stop",
                metadata: [
                    "orphan_vectors_deleted": "\(report.orphanVectorsDeleted)",
                    "items_requeued": "\(report.itemsRequeued)",
                ])
        }
        return report
    }
}

extension Catalog {
    /// Marks items for re-extraction although their bytes have not changed
    /// (`StateStore.markStale`): their content hash is cleared, which `enqueue` reads as
    /// "extract again". An indexed item stays indexed, so its vectors from the older producer keep
    /// answering until the new ones replace them: an upgrade does not take a collection off the air
    /// while it is described again.
    func markForReextraction(_ ids: [ItemID]) throws(CatalogError) {
        guard !ids.isEmpty else { return }
        try write("mark \(ids.count) items for re-extraction") { db in
            let statement = try db.cachedStatement(sql: "UPDATE items SET content_hash = NULL WHERE id = ?")
            for id in ids { try statement.execute(arguments: [id.sqlValue]) }
        }
    }

    /// Puts an item back in the queue without touching its other fields.
    func enqueueAgain(_ id: ItemID) throws(CatalogError) -> Bool {
        do {
            return try pool.write { db in
                try db.execute(sql: "UPDATE items SET status = 'queued' WHERE id = ?", arguments: [id.sqlValue])
                return db.changesCount > 0
            }
        } catch {
            throw CatalogError(operation: "requeue \(id)", underlying: error)
        }
    }
}
