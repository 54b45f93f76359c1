import Foundation
import GRDB
import KindredCore
import Logging

/// The file catalog: SQLite in WAL mode through GRDB, so readers (including a user's own
/// `sqlite3 -readonly`) never block the writer. The schema is Schema/catalog/*.sql.
public final class Catalog: Sendable {
    /// Internal: tests read through it; item status changes go through `StateStore`.
    let pool: DatabasePool
    private let logger: Logger

    /// Opens (creating and migrating as needed) the catalog at `url`. `readOnly` opens an
    /// existing catalog for readers beside a running kindredd (`kindred map`, `report`): it never
    /// writes, and refuses a catalog whose schema is older than this build's.
    public init(url: URL, readOnly: Bool = false, logger: Logger) throws(CatalogError) {
        self.logger = logger
        var configuration = Configuration()
        configuration.label = "kindred.catalog"
        configuration.busyMode = .timeout(5)
        configuration.foreignKeysEnabled = true
        configuration.readonly = readOnly
        // Acknowledged changes (a WATCH, an UNWATCH, items marked indexed) survive a power cut:
        // in WAL mode FULL syncs the log at every commit (NORMAL would lose the last ones). Commits
        // are per batch of images, so this costs a few fsyncs a second at most.
        //
        // Pages are read through a memory map (up to 1 GiB of catalog; a million items take about
        // 150 MB), not pread: every SIMILAR looks up its item and its answer's paths, and with
        // pread that was ~10 system calls a query (strace under load), each copying a page the
        // kernel already holds, and a reader's own page cache is dropped whenever ingestion
        // commits. The mapping shares the kernel's cache across connections and processes. The
        // state directory is kindredd's, as for LMDB's map of the vectors.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
            if !readOnly { try db.execute(sql: "PRAGMA synchronous = FULL") }
        }
        do {
            pool = try DatabasePool(path: url.path, configuration: configuration)
        } catch {
            throw CatalogError(operation: "open \(url.path)", underlying: error)
        }
        let applied = try appliedMigrations()
        // A catalog a newer build migrated is refused, read-only or not: this build's code knows
        // neither its new columns nor their values, and writing it could break them.
        let unknown = applied.subtracting(CatalogSchema.migrations.map(\.name)).sorted()
        guard unknown.isEmpty else {
            throw CatalogError(operation: "open \(url.path)", underlying: SchemaMismatch.newer(unknown))
        }
        if readOnly {
            let missing = CatalogSchema.migrations.map(\.name).filter { !applied.contains($0) }
            guard missing.isEmpty else {
                throw CatalogError(operation: "open read-only", underlying: SchemaMismatch.older(missing))
            }
        } else {
            try migrate()
        }
    }

    /// Why a catalog's schema is not this build's.
    enum SchemaMismatch: Error, CustomStringConvertible {
        /// Migrations this build has and the catalog lacks (a read-only open cannot apply them).
        case older([String])
        /// Migrations a newer build applied that this one does not know.
        case newer([String])

        var description: String {
            switch self {
            case .older(let missing):
                "schema lacks migrations \(missing.joined(separator: ", ")); start kindredd once to migrate it"
            case .newer(let unknown):
                "a newer Kindred migrated this catalog (\(unknown.joined(separator: ", ")), which this build does not know); run that build or a newer one, or restore a backup made before the upgrade"
            }
        }
    }

    /// The migrations applied to this database (GRDB records them in `grdb_migrations`).
    private func appliedMigrations() throws(CatalogError) -> Set<String> {
        try read("read the schema version") { db in
            try db.tableExists("grdb_migrations")
                ? Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")) : []
        }
    }

    /// Applies the migrations of Schema/catalog that this database has not seen, in order.
    /// GRDB records applied ones in `grdb_migrations`.
    private func migrate() throws(CatalogError) {
        var migrator = DatabaseMigrator()
        for migration in CatalogSchema.migrations {
            migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
        }
        do {
            let pending =
                try pool.read { try migrator.hasCompletedMigrations($0) } ? [] : CatalogSchema.migrations.map(\.name)
            try migrator.migrate(pool)
            if !pending.isEmpty { logger.info("catalog migrated", metadata: ["migrations": "\(pending)"]) }
        } catch {
            throw CatalogError(operation: "migrate", underlying: error)
        }
    }

    /// Writes a consistent copy of the catalog to `url` (a new file) with SQLite's online backup
    /// API: readers and the writer go on while it copies.
    public func backup(to url: URL) throws(CatalogError) {
        do {
            let destination = try DatabaseQueue(path: url.path)
            try pool.backup(to: destination)
            try destination.close()
        } catch {
            throw CatalogError(operation: "back up to \(url.path)", underlying: error)
        }
    }

    // MARK: Roots

    /// Records `path` as a root (re-enabling it if known). `device` is its st_dev, kept so a root
    /// that later shows another device (an unmounted share) is paused rather than emptied.
    @discardableResult
    public func addRoot(
        _ path: CollectionPath, device: Int64? = nil, at now: Int64 = Catalog.now()
    ) throws(CatalogError) -> CatalogRoot {
        try write("add root \(path)") { db in
            if var existing = try CatalogRoot.filter(Column("path") == path.string).fetchOne(db) {
                existing.enabled = true
                // A known root keeps the device it was added on: a start while its share is
                // unmounted must not adopt the mount point's device (RootHealth would then
                // see nothing wrong). An operator accepts a new device with setDevice.
                existing.device = existing.device ?? device
                try existing.update(db)
                return existing
            }
            var root = CatalogRoot(id: nil, path: path.string, addedAt: now, enabled: true, device: device)
            try root.insert(db)
            return root
        }
    }

    /// Accepts the device a root now lives on (an operator's RESCAN of a paused root).
    public func setDevice(_ device: Int64, ofRoot path: CollectionPath) throws(CatalogError) {
        try write("set the device of root \(path)") { db in
            try db.execute(sql: "UPDATE roots SET device = ? WHERE path = ?", arguments: [device, path.string])
        }
    }

    /// Removes a root; its items stay until the caller removes them (their vectors must go too).
    @discardableResult
    public func removeRoot(_ path: CollectionPath) throws(CatalogError) -> Bool {
        try write("remove root \(path)") { db in try CatalogRoot.filter(Column("path") == path.string).deleteAll(db) > 0
        }
    }

    public func roots() throws(CatalogError) -> [CatalogRoot] {
        try read("list roots") { db in try CatalogRoot.order(Column("path")).fetchAll(db) }
    }

    /// The roots as the set that owns the nesting rules. A stored path that is not canonical (none
    /// is written so) is left out rather than trusted.
    public func rootSet() throws(CatalogError) -> RootSet {
        RootSet(try roots().compactMap { try? CollectionPath($0.path) })
    }

    // MARK: Items

    /// A file as `stat` saw it.
    public struct SeenFile: Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var mtimeNs: Int64

        public init(path: String, size: Int64, mtimeNs: Int64) {
            self.path = path
            self.size = size
            self.mtimeNs = mtimeNs
        }
    }

    /// What extraction learnt of an item, recorded when it is marked indexed.
    public struct Extraction: Sendable, Equatable {
        public var id: ItemID
        public var contentHash: String
        public var width: Int?
        public var height: Int?
        public var format: String?
        /// The network's top ImageNet class for the picture (0–999); nil when not classified.
        public var imagenetClass: Int?

        public init(
            id: ItemID, contentHash: String, width: Int?, height: Int?, format: String?, imagenetClass: Int? = nil
        ) {
            self.id = id
            self.contentHash = contentHash
            self.width = width
            self.height = height
            self.format = format
            self.imagenetClass = imagenetClass.flatMap { (0..<1000).contains($0) ? $0 : nil }
        }
    }

    /// Records a file as seen. A new path gets a new id; a known path whose size or mtime changed
    /// goes back to `queued`. Returns the item and whether it needs extracting: also so for a
    /// queued item, and for an indexed one marked for re-extraction, which stays indexed.
    public func enqueue(
        path: String, size: Int64, mtimeNs: Int64, rootID: Int64? = nil, at now: Int64 = Catalog.now()
    ) throws(CatalogError) -> (item: CatalogItem, needsExtraction: Bool) {
        try enqueue([SeenFile(path: path, size: size, mtimeNs: mtimeNs)], rootID: rootID, at: now)[0]
    }

    /// `enqueue` for many files in one transaction (one disk sync, not one per file).
    public func enqueue(
        _ files: [SeenFile], rootID: Int64? = nil, at now: Int64 = Catalog.now()
    ) throws(CatalogError) -> [(item: CatalogItem, needsExtraction: Bool)] {
        try write("enqueue \(files.count) files") { db in
            try files.map { file in
                if var item = try CatalogItem.filter(Column("path") == file.path).fetchOne(db) {
                    let changed = item.size != file.size || item.mtimeNs != file.mtimeNs
                    guard changed || item.status == .queued || item.awaitsReextraction else { return (item, false) }
                    item.rootID = rootID ?? item.rootID
                    if changed {
                        // New bytes, a fresh start; the old vectors no longer describe the file.
                        item.attempts = 0
                        item.status = .queued
                    }
                    item.size = file.size
                    item.mtimeNs = file.mtimeNs
                    item.error = nil
                    try item.update(db)
                    return (item, true)
                }
                var item = CatalogItem(
                    id: nil, path: file.path, rootID: rootID, size: file.size, mtimeNs: file.mtimeNs, contentHash: nil,
                    width: nil, height: nil, format: nil, status: .queued, error: nil, firstSeen: now, lastIndexed: nil)
                try item.insert(db)
                return (item, true)
            }
        }
    }

    /// Step 3 of the commit order in Schema/lmdb.md: called only after the item's vectors committed
    /// (so only by `StateStore`, as are the other status changes below).
    func markIndexed(
        _ id: ItemID, contentHash: String, width: Int?, height: Int?, format: String?, at now: Int64 = Catalog.now()
    ) throws(CatalogError) {
        try markIndexed(
            [Extraction(id: id, contentHash: contentHash, width: width, height: height, format: format)], at: now)
    }

    /// `markIndexed` for a batch, in one transaction. `sameContent`: the items' bytes are what
    /// was extracted before (`StateStore.confirm`), so the class kept then stays; otherwise each
    /// item's class is its extraction's (nil: none known, as for imported vectors).
    func markIndexed(
        _ extractions: [Extraction], sameContent: Bool = false, at now: Int64 = Catalog.now()
    ) throws(CatalogError) {
        try write("mark \(extractions.count) items indexed") { db in
            let statement = try db.cachedStatement(
                sql: """
                    UPDATE items SET status = 'indexed', error = NULL, content_hash = ?, width = ?, height = ?, format = ?,
                    imagenet_class = CASE WHEN ? THEN imagenet_class ELSE ? END, last_indexed = ?, attempts = 0
                    WHERE id = ?
                    """)
            for e in extractions {
                try statement.execute(
                    arguments: [
                        e.contentHash, e.width, e.height, e.format, sameContent, e.imagenetClass, now, e.id.sqlValue,
                    ])
            }
        }
    }

    /// Records why an item could not be extracted; it is retried only when the file changes.
    func markFailed(_ id: ItemID, error message: String, contentHash: String? = nil) throws(CatalogError) {
        try markFailed([(id, message, contentHash)])
    }

    /// `markFailed` for a batch, in one transaction.
    func markFailed(_ failures: [(id: ItemID, error: String, contentHash: String?)]) throws(CatalogError) {
        guard !failures.isEmpty else { return }
        try write("mark \(failures.count) items failed") { db in
            let statement = try db.cachedStatement(
                sql:
                    "UPDATE items SET status = 'failed', error = ?, content_hash = coalesce(?, content_hash), attempts = 0 WHERE id = ?"
            )
            for f in failures { try statement.execute(arguments: [f.error, f.contentHash, f.id.sqlValue]) }
        }
    }

    /// Records that decoding these items is about to start, committed before the decoder runs.
    /// A process that dies decoding leaves the count raised; `markIndexed` and `markFailed` clear it.
    public func markAttempted(_ ids: [ItemID]) throws(CatalogError) {
        guard !ids.isEmpty else { return }
        try write("mark \(ids.count) items attempted") { db in
            let statement = try db.cachedStatement(sql: "UPDATE items SET attempts = attempts + 1 WHERE id = ?")
            for id in ids { try statement.execute(arguments: [id.sqlValue]) }
        }
    }

    /// Moves an item to a new path, keeping its id and vectors (a rename with unchanged content).
    /// A row already at `path` is deleted here only as a last resort: `StateStore.move` removes it
    /// first with its vectors.
    func move(_ id: ItemID, to path: String) throws(CatalogError) {
        try write("move \(id)") { db in
            try db.execute(sql: "DELETE FROM items WHERE path = ? AND id != ?", arguments: [path, id.sqlValue])
            try db.execute(sql: "UPDATE items SET path = ? WHERE id = ?", arguments: [path, id.sqlValue])
        }
    }

    /// Step 1 of deletion (Schema/lmdb.md): the row goes first, then its vectors.
    @discardableResult
    func removeItem(_ id: ItemID) throws(CatalogError) -> Bool {
        try write("remove \(id)") { db in try CatalogItem.deleteOne(db, key: id.sqlValue) }
    }

    /// `removeItem` for many, in one transaction.
    func removeItems(_ ids: [ItemID]) throws(CatalogError) {
        guard !ids.isEmpty else { return }
        try write("remove \(ids.count) items") { db in
            let statement = try db.cachedStatement(sql: "DELETE FROM items WHERE id = ?")
            for id in ids { try statement.execute(arguments: [id.sqlValue]) }
        }
    }

    /// What an answer shows of an item (its path), and what decides whether it may be a query's
    /// target (its status, and why it failed).
    public struct Listing: Sendable, Equatable {
        public let path: String
        public let status: ItemStatus
        public let error: String?

        public init(_ item: CatalogItem) { (path, status, error) = (item.path, item.status, item.error) }
        init(path: String, status: ItemStatus, error: String?) {
            (self.path, self.status, self.error) = (path, status, error)
        }
    }

    /// The listings of many items in one statement (ids not in the catalog are absent): SIMILAR
    /// reads its answer's paths and its target's standing together, in one read.
    public func listings(of ids: [ItemID]) throws(CatalogError) -> [ItemID: Listing] {
        guard !ids.isEmpty else { return [:] }
        return try lookup("listings of \(ids.count) items") { db in
            // One statement a count of ids, kept prepared: SIMILAR asks for the same k each time.
            let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
            let statement = try db.cachedStatement(
                sql: "SELECT id, path, status, error FROM items WHERE id IN (\(placeholders))")
            var listings: [ItemID: Listing] = [:]
            listings.reserveCapacity(ids.count)
            let rows = try Row.fetchCursor(statement, arguments: StatementArguments(ids.map { $0.sqlValue }))
            while let row = try rows.next() {
                listings[ItemID(UInt64(row[0] as Int64))] = Listing(
                    path: row[1], status: row[2], error: row[3] as String?)
            }
            return listings
        }
    }

    /// The paths of many items in one statement (ids not in the catalog are absent).
    public func paths(of ids: [ItemID]) throws(CatalogError) -> [ItemID: String] {
        try listings(of: ids).mapValues(\.path)
    }

    /// Every indexed item's path, one at a time in id order, without holding them all: what a
    /// refit's cluster labels tally folders from.
    public func forEachIndexedPath(_ body: (ItemID, String) throws -> Void) throws(CatalogError) {
        try read("paths of the indexed items") { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT id, path FROM items WHERE status = 'indexed' ORDER BY id")
            while let row = try rows.next() { try body(ItemID(UInt64(row[0] as Int64)), row[1] as String) }
        }
    }

    /// The network's top ImageNet class of each of `ids` (at most 10,000, within SQLite's
    /// variables a statement), in order; nil for an item without one (extracted before it was
    /// kept, or unknown).
    public func imagenetClasses(_ ids: [ItemID]) throws(CatalogError) -> [Int?] {
        precondition(ids.count <= 10_000, "imagenetClasses takes at most 10,000 ids at once")
        guard !ids.isEmpty else { return [] }
        let found = try lookup("ImageNet classes of \(ids.count) items") { db in
            var found: [UInt64: Int] = [:]
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
            let rows = try Row.fetchCursor(
                db, sql: "SELECT id, imagenet_class FROM items WHERE id IN (\(marks)) AND imagenet_class IS NOT NULL",
                arguments: StatementArguments(ids.map(\.sqlValue)))
            while let row = try rows.next() { found[UInt64(row[0] as Int64)] = Int(row[1] as Int64) }
            return found
        }
        return ids.map { found[$0.rawValue] }
    }

    public func item(_ id: ItemID) throws(CatalogError) -> CatalogItem? {
        try lookup("item \(id)") { db in
            try CatalogItem.fetchOne(
                db.cachedStatement(sql: "SELECT \(CatalogItem.selection) FROM items WHERE id = ?"),
                arguments: [id.sqlValue])
        }
    }

    /// An indexed item other than `id` whose file had these bytes (`content_hash`, indexed), or
    /// nil: the item whose vectors a new path to the same bytes can take.
    public func indexedItem(contentHash: String, excluding id: ItemID) throws(CatalogError) -> CatalogItem? {
        try lookup("the item with content \(contentHash)") { db in
            try CatalogItem.fetchOne(
                db.cachedStatement(
                    sql:
                        "SELECT \(CatalogItem.selection) FROM items WHERE content_hash = ? AND status = 'indexed' AND id != ? LIMIT 1"
                ), arguments: [contentHash, id.sqlValue])
        }
    }

    public func item(path: String) throws(CatalogError) -> CatalogItem? {
        try lookup("item \(path)") { db in
            try CatalogItem.fetchOne(
                db.cachedStatement(sql: "SELECT \(CatalogItem.selection) FROM items WHERE path = ?"), arguments: [path])
        }
    }

    /// Every indexed item's path and content hash, by id: one query, however large the collection
    /// (`paths(of:)` binds one variable an id, which SQLite caps).
    public func indexedFiles() throws(CatalogError) -> [ItemID: (path: String, contentHash: String)] {
        try read("list indexed files") { db in
            var files: [ItemID: (path: String, contentHash: String)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, path, content_hash FROM items WHERE status = 'indexed'") {
                files[ItemID(UInt64(row["id"] as Int64))] = (row["path"], row["content_hash"] as String? ?? "")
            }
            return files
        }
    }

    /// Indexed items that share their content hash with another: groups of byte-identical files,
    /// each in id order, the groups in order of their first id.
    public func identicalContent() throws(CatalogError) -> [[ItemID]] {
        try read("group items by content hash") { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT content_hash, id FROM items WHERE status = 'indexed' AND content_hash IN (
                        SELECT content_hash FROM items WHERE status = 'indexed' AND content_hash IS NOT NULL
                        GROUP BY content_hash HAVING count(*) > 1)
                    ORDER BY content_hash, id
                    """)
            var groups: [String: [ItemID]] = [:]
            for row in rows {
                groups[row["content_hash"] as String, default: []].append(ItemID(UInt64(row["id"] as Int64)))
            }
            return groups.values.sorted { $0[0] < $1[0] }
        }
    }

    /// Ids in ascending order, optionally of one status.
    public func itemIDs(status: ItemStatus? = nil) throws(CatalogError) -> [ItemID] {
        try read("list item ids") { db in
            let ids: [Int64]
            if let status {
                ids = try Int64.fetchAll(
                    db, sql: "SELECT id FROM items WHERE status = ? ORDER BY id", arguments: [status])
            } else {
                ids = try Int64.fetchAll(db, sql: "SELECT id FROM items ORDER BY id")
            }
            return ids.map { ItemID(UInt64($0)) }
        }
    }

    /// How many items are in each status; every status is present, zero if none.
    public func statusCounts() throws(CatalogError) -> [ItemStatus: Int] {
        try read("count items") { db in
            var counts = Dictionary(uniqueKeysWithValues: ItemStatus.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM items GROUP BY status") {
                if let status = ItemStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    /// How many indexed items await re-extraction (`CatalogItem.awaitsReextraction`), read from
    /// the partial index that holds exactly them (Schema/catalog/007): SQLite's planner took
    /// `items_by_status` instead and looked every indexed item up, at every STATUS.
    public func awaitingReextraction() throws(CatalogError) -> Int {
        try read("count items awaiting re-extraction") { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM items INDEXED BY items_awaiting_reextraction
                    WHERE status = 'indexed' AND content_hash IS NULL
                    """) ?? 0
        }
    }

    /// The `sql` of every table and index the catalog defines, sorted: what the schema test
    /// compares with Schema/catalog applied to an empty database.
    public func schemaDefinitions() throws(CatalogError) -> [String] {
        try read("read schema") { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT sql FROM sqlite_master
                    WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'
                    ORDER BY sql
                    """)
        }
    }

    public static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    func read<T>(_ operation: @autoclosure () -> String, _ body: (Database) throws -> T) throws(CatalogError) -> T {
        do { return try pool.read(body) } catch { throw CatalogError(operation: operation(), underlying: error) }
    }

    /// A read of one statement, the queries every SIMILAR makes: without the BEGIN and COMMIT
    /// that `read` wraps around its body, since one SQLite statement already reads one consistent
    /// snapshot of the WAL. Bodies that run two or more statements use `read`.
    func lookup<T>(_ operation: @autoclosure () -> String, _ body: (Database) throws -> T) throws(CatalogError) -> T {
        do { return try pool.unsafeRead(body) } catch { throw CatalogError(operation: operation(), underlying: error) }
    }

    func write<T>(_ operation: @autoclosure () -> String, _ body: (Database) throws -> T) throws(CatalogError) -> T {
        do { return try pool.write(body) } catch { throw CatalogError(operation: operation(), underlying: error) }
    }
}

extension Catalog {
    /// Failed items, most recently seen first: path and reason.
    public func failures(limit: Int) throws(CatalogError) -> [(path: String, reason: String)] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql:
                        "SELECT path, error FROM items WHERE status = 'failed' ORDER BY first_seen DESC, id DESC LIMIT ?",
                    arguments: [limit]
                )
                .map { ($0["path"], $0["error"] ?? "") }
            }
        } catch {
            throw CatalogError(operation: "list failures", underlying: error)
        }
    }

    /// Items whose root is gone from `roots` (the row removed by UNWATCH, or its `root_id`
    /// cleared) and whose path no root covers: what a stop between UNWATCH's two steps leaves.
    ///
    /// An item with no root of record whose path a root does cover (preloaded or imported
    /// items, or a root watched again) is given that root first, in SQL by each root's
    /// descendant range, so it is looked at once. Before, every start parsed every such path
    /// again: 1M preloaded items took seconds a start, and a stop right after start-up waited
    /// for them.
    public func itemsOutsideRoots(_ roots: RootSet) throws(CatalogError) -> [ItemID] {
        let rootless = "root_id IS NULL OR root_id NOT IN (SELECT id FROM roots)"
        return try write("items outside the roots") { db in
            for root in try CatalogRoot.fetchAll(db) {
                guard let id = root.id, let path = try? CollectionPath(root.path), roots.covers(path) else { continue }
                let range = path.descendantRange
                try db.execute(
                    sql: "UPDATE items SET root_id = ? WHERE (\(rootless)) AND path >= ? AND path < ?",
                    arguments: [id, range.lower, range.upper])
            }
            return try Row.fetchAll(db, sql: "SELECT id, path FROM items WHERE \(rootless)").compactMap { row in
                let path: String = row["path"]
                guard let canonical = try? CollectionPath(path), roots.covers(canonical) else {
                    return ItemID(UInt64(row["id"] as Int64))
                }
                return nil
            }
        }
    }

    /// Items whose vectors were written at or after `time` (`last_indexed`).
    public func itemIDs(indexedSince time: Date) throws(CatalogError) -> Set<UInt64> {
        try read("items indexed since \(time)") { db in
            Set(
                try Int64.fetchAll(
                    db, sql: "SELECT id FROM items WHERE last_indexed >= ?",
                    arguments: [Int64(time.timeIntervalSince1970)]
                ).map { UInt64($0) })
        }
    }

    /// The id and path of every item strictly inside `directory` (byte-exact, as `itemIDs(under:)`).
    public func paths(under directory: CollectionPath) throws(CatalogError) -> [ItemID: String] {
        let range = directory.descendantRange
        return try read("list paths under \(directory)") { db in
            var paths: [ItemID: String] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT id, path FROM items WHERE path >= ? AND path < ?",
                arguments: [range.lower, range.upper])
            {
                paths[ItemID(UInt64(row["id"] as Int64))] = row["path"]
            }
            return paths
        }
    }

    /// Whether every item of the catalog lies under `directory` (a collection under one root
    /// asked about that root): answered by looking for one item on either side of its
    /// `descendantRange` on the path index, in O(log n) whatever the collection's size. (Counting
    /// the items under it took 25 ms at a million.)
    public func everyItemIsUnder(_ directory: CollectionPath) throws(CatalogError) -> Bool {
        let range = directory.descendantRange
        do {
            return try pool.read { db in
                try
                    !(Bool.fetchOne(
                        db,
                        sql: """
                            SELECT EXISTS (SELECT 1 FROM items WHERE path < ?)
                                OR EXISTS (SELECT 1 FROM items WHERE path >= ?)
                            """,
                        arguments: [range.lower, range.upper]) ?? false)
            }
        } catch {
            throw CatalogError(operation: "check whether every item is under \(directory)", underlying: error)
        }
    }

    /// Ids of the items strictly inside `directory`, compared byte for byte
    /// (`CollectionPath.descendantRange`), so `/art` does not match `/artist` and a name with
    /// accents matches exactly the bytes on disk; at most `limit`.
    public func itemIDs(under directory: CollectionPath, limit: Int? = nil) throws(CatalogError) -> Set<UInt64> {
        let range = directory.descendantRange
        do {
            return try pool.read { db in
                Set(
                    try Int64.fetchAll(
                        db, sql: "SELECT id FROM items WHERE path >= ? AND path < ? LIMIT ?",
                        arguments: [range.lower, range.upper, limit ?? -1]
                    ).map { UInt64($0) })
            }
        } catch {
            throw CatalogError(operation: "list items under \(directory)", underlying: error)
        }
    }
}
