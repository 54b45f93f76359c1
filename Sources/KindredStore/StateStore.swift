import Foundation
import KindredCore
import Logging

/// A collection's durable state, the catalog (SQLite) and the vectors (LMDB), and the one owner
/// of the order in which the two are committed (Schema/lmdb.md, "Commit order"). The two stores
/// cannot share a transaction, so every change that concerns both goes through here: an item
/// becomes indexed, fails, or is removed; start-up repair; backups. The catalog's own status
/// setters are internal to this module, so nothing else can mark an item indexed without its
/// vectors or drop a row and forget its vectors.
public final class StateStore: Sendable {
    /// Reads, roots, runs and `enqueue` (step 1, which allocates ids) are the catalog's own.
    public let catalog: Catalog
    /// Reads are the store's own; writes that concern items go through this type.
    public let vectors: VectorStore

    public init(catalog: Catalog, vectors: VectorStore) {
        self.catalog = catalog
        self.vectors = vectors
    }

    /// Opens (creating as needed) the catalog and the vector store of a state directory.
    public convenience init(
        paths: StatePaths, spaces: [VectorSpace], includeRegistered: Bool = false, logger: Logger
    ) throws {
        try paths.create()
        self.init(
            catalog: try Catalog(url: paths.catalog, logger: logger),
            vectors: try VectorStore(
                directory: paths.vectors, spaces: spaces, includeRegistered: includeRegistered, logger: logger))
    }

    /// One vector of an item, in one space.
    public enum Vector: Sendable {
        case floats([Float])
        case bytes([UInt8])
    }

    /// An item whose extraction succeeded: its vectors by space, and what was learnt of the file.
    public struct Indexed: Sendable {
        public var extraction: Catalog.Extraction
        public var vectors: [(space: String, value: Vector)]

        public init(extraction: Catalog.Extraction, vectors: [(space: String, value: Vector)]) {
            self.extraction = extraction
            self.vectors = vectors
        }
    }

    /// Steps 2 and 3 of indexing: every vector of the batch in one LMDB transaction, then the
    /// rows marked indexed in one SQLite transaction. (Step 1 is `catalog.enqueue`.)
    public func index(_ batch: [Indexed]) throws {
        guard !batch.isEmpty else { return }
        try vectors.write { txn throws(VectorStoreError) in
            for item in batch {
                for (space, value) in item.vectors {
                    switch value {
                    case .floats(let values): try txn.put(item.extraction.id, values, space: space)
                    case .bytes(let values): try txn.put(item.extraction.id, values, space: space)
                    }
                }
            }
        }
        try catalog.markIndexed(batch.map(\.extraction))
    }

    /// Items whose bytes are what was extracted before and whose vectors are in place: step 3 alone.
    public func confirm(_ extractions: [Catalog.Extraction]) throws {
        try catalog.markIndexed(extractions, sameContent: true)
    }

    /// Items that could not be extracted: the rows are marked failed with the reason first, then
    /// any vectors they had go (they describe what the file was before it changed). Returns the
    /// ids that had vectors, for the caller's index.
    @discardableResult
    public func fail(_ failures: [(id: ItemID, error: String, contentHash: String?)]) throws -> [ItemID] {
        guard !failures.isEmpty else { return [] }
        try catalog.markFailed(failures)
        let stale = try failures.map(\.id).filter { id throws in try vectors.hasAny(id) }
        if !stale.isEmpty {
            try vectors.write { txn throws(VectorStoreError) in for id in stale { _ = try txn.delete(id) } }
        }
        return stale
    }

    /// Deletion: the rows go first (their assignments by cascade), then the vectors, a batch
    /// of 5,000 per transaction pair (one sync for a whole directory, not one per file).
    /// `each` hears every batch once both stores have dropped it, for the caller's index.
    public func remove(_ ids: [ItemID], each: ([ItemID]) -> Void = { _ in }) throws {
        for start in stride(from: 0, to: ids.count, by: 5000) {
            let batch = Array(ids[start..<min(ids.count, start + 5000)])
            try catalog.removeItems(batch)
            try vectors.write { txn throws(VectorStoreError) in for id in batch { _ = try txn.delete(id) } }
            each(batch)
        }
    }

    /// A rename: the item keeps its id and vectors under its new path. An item already at that
    /// path (a file renamed over another) is removed first, row then vectors; its id is returned
    /// for the caller's index.
    @discardableResult
    public func move(_ id: ItemID, to path: String) throws -> ItemID? {
        var displaced: ItemID?
        if let other = try catalog.item(path: path)?.itemID, other != id {
            try remove([other])
            displaced = other
        }
        try catalog.move(id, to: path)
        return displaced
    }

    /// Files whose vectors were computed elsewhere (`kindred store import`, benchmarks): rows
    /// queued, vectors written, rows marked indexed, in that order. Returns the ids, in order.
    @discardableResult
    public func importItems(
        _ files: [Catalog.SeenFile], contentHash: String, vectors make: (Int) -> [(space: String, value: Vector)]
    ) throws -> [ItemID] {
        let ids = try catalog.enqueue(files).map { $0.item.itemID! }
        try index(
            ids.enumerated().map { row, id in
                Indexed(
                    extraction: Catalog.Extraction(
                        id: id, contentHash: contentHash, width: nil, height: nil, format: nil), vectors: make(row))
            })
        return ids
    }

    /// Items whose vector in one of `spaces` an older producer made (a model or descriptor
    /// upgrade): marked for re-extraction (`Catalog.markForReextraction`), so the next scan
    /// extracts them again instead of taking their unchanged bytes for done. They stay indexed:
    /// their old vectors keep answering until the new ones replace them. Returns how many.
    @discardableResult
    public func markStale(spaces: [String]) throws -> Int {
        var stale = Set<ItemID>()
        for space in spaces where vectors.spaces[space] != nil { stale.formUnion(try vectors.staleItems(space: space)) }
        try catalog.markForReextraction(Array(stale))
        return stale.count
    }

    /// Start-up repair after an unclean stop (StateRepair): what the commit order can leave is
    /// put right.
    public func repair(requiredSpaces: [String], logger: Logger) throws -> RepairReport {
        try StateRepair.run(catalog: catalog, store: vectors, requiredSpaces: requiredSpaces, logger: logger)
    }

    /// What start-up checks: `repair`, then `markStale`, each a pass over every record (about
    /// 6 s at a million items). After a clean stop with the same spaces and producers
    /// (`VectorStore.openedAfterCleanStop`) neither can find anything, so both are skipped.
    /// Returns the number of items requeued, or nil when the checks were skipped.
    public func startUpChecks(requiredSpaces: [String], staleSpaces: [String], logger: Logger) throws -> Int? {
        guard !vectors.openedAfterCleanStop else {
            logger.info("the last stop was clean: start-up repair and producer checks skipped")
            return nil
        }
        _ = try repair(requiredSpaces: requiredSpaces, logger: logger)
        return try markStale(spaces: staleSpaces)
    }

    /// A consistent copy into the state directory `copy` (which must hold no catalog or vectors
    /// yet): LMDB's compacting copy, then SQLite's online backup. The caller keeps item writers
    /// still meanwhile (kindredd runs it between ingestion batches).
    public func backup(to copy: StatePaths) throws {
        try FileManager.default.createDirectory(
            at: copy.vectors, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try vectors.environment.copy(to: copy.vectors.path)
        try catalog.backup(to: copy.catalog)
    }

    /// Flushes LMDB (commits are already durable; this is for a clean stop).
    public func sync() throws {
        try vectors.environment.sync()
    }

    /// The last step of a clean stop, after `sync`: the next start may skip `startUpChecks`.
    public func markCleanStop() throws {
        try vectors.markCleanStop()
    }
}
