import CLMDB

/// A key: item ids are native 8-byte integers (databases opened with MDB_INTEGERKEY, so cursor
/// order is id order); registry keys are UTF-8 strings.
public protocol LMDBKey: CustomStringConvertible {
    func withKeyBytes<T, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T
}

extension UInt64: LMDBKey {
    public func withKeyBytes<T, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
        var key = self
        return try withUnsafeBytes(of: &key) { (bytes) throws(E) -> T in try body(bytes) }
    }
}

extension String: LMDBKey {
    public func withKeyBytes<T, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
        // Array.withUnsafeBytes rethrows untyped errors, so copy into a buffer of our own.
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: utf8.count, alignment: 1)
        defer { raw.deallocate() }
        _ = raw.initializeMemory(as: UInt8.self, from: utf8)
        return try body(UnsafeRawBufferPointer(raw))
    }
}

/// A transaction, valid only inside the `read`/`write` call that handed it out.
public struct LMDBTransaction {
    let handle: OpaquePointer
    let environmentPath: String

    /// The value stored under `key`, or nil. The bytes point into the map and are valid only
    /// until the transaction ends.
    public func get(_ db: LMDBDatabase, _ key: some LMDBKey) throws(LMDBError) -> UnsafeRawBufferPointer? {
        try key.withKeyBytes { keyBytes throws(LMDBError) in
            var mkey = MDB_val(
                mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var value = MDB_val()
            let code = mdb_get(handle, db.dbi, &mkey, &value)
            if code == MDB_NOTFOUND { return nil }
            try check(code, "mdb_get", "\(db.name) key \(key)")
            return UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
        }
    }

    /// Reserves `count` bytes under `key` and lets `fill` write them in place: one copy, straight
    /// into the page.
    public func put(
        _ db: LMDBDatabase, _ key: some LMDBKey, count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void
    ) throws(LMDBError) {
        try key.withKeyBytes { keyBytes throws(LMDBError) in
            var mkey = MDB_val(
                mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var value = MDB_val(mv_size: count, mv_data: nil)
            try check(mdb_put(handle, db.dbi, &mkey, &value, UInt32(MDB_RESERVE)), "mdb_put", "\(db.name) key \(key)")
            fill(UnsafeMutableRawBufferPointer(start: value.mv_data, count: count))
        }
    }

    /// Deletes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ db: LMDBDatabase, _ key: some LMDBKey) throws(LMDBError) -> Bool {
        try key.withKeyBytes { keyBytes throws(LMDBError) in
            var mkey = MDB_val(
                mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            let code = mdb_del(handle, db.dbi, &mkey, nil)
            if code == MDB_NOTFOUND { return false }
            try check(code, "mdb_del", "\(db.name) key \(key)")
            return true
        }
    }

    /// The number of entries in `db`.
    public func count(_ db: LMDBDatabase) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(handle, db.dbi, &stat), "mdb_stat", db.name)
        return stat.ms_entries
    }

    /// The pages `db` occupies: entries, and branch, leaf and overflow pages of `pageSize` bytes.
    public func usage(_ db: LMDBDatabase) throws(LMDBError) -> SpaceUsage {
        var stat = MDB_stat()
        try check(mdb_stat(handle, db.dbi, &stat), "mdb_stat", db.name)
        return SpaceUsage(
            entries: stat.ms_entries, pageSize: Int(stat.ms_psize), branchPages: stat.ms_branch_pages,
            leafPages: stat.ms_leaf_pages, overflowPages: stat.ms_overflow_pages)
    }

    /// Deletes `db` itself; its handle must not be used afterwards.
    public func drop(_ db: LMDBDatabase) throws(LMDBError) {
        try check(mdb_drop(handle, db.dbi, 1), "mdb_drop", db.name)
    }

    /// A cursor over `db`, closed when `body` returns.
    public func withCursor<T>(_ db: LMDBDatabase, _ body: (inout LMDBCursor) throws -> T) throws -> T {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(handle, db.dbi, &cursor), "mdb_cursor_open", db.name)
        defer { mdb_cursor_close(cursor) }
        var wrapper = LMDBCursor(handle: cursor!, database: db)
        return try body(&wrapper)
    }
}

/// Walks a database in key order.
public struct LMDBCursor {
    let handle: OpaquePointer
    let database: LMDBDatabase
    private var started = false

    init(handle: OpaquePointer, database: LMDBDatabase) {
        self.handle = handle
        self.database = database
    }

    /// The next entry in key order, or nil at the end. The bytes are valid until the transaction ends.
    public mutating func next() throws(LMDBError) -> (key: UInt64, value: UnsafeRawBufferPointer)? {
        guard let (key, value) = try nextRaw() else { return nil }
        guard key.count == 8 else {
            throw LMDBError(
                code: MDB_BAD_VALSIZE, operation: "mdb_cursor_get",
                context: "\(database.name): key of \(key.count) bytes, not 8")
        }
        return (key.loadUnaligned(as: UInt64.self), value)
    }

    /// The next key alone. The value is not read, so a record on overflow pages (a 1280-d vector)
    /// is not touched: walking a million keys maps their leaf pages, not gigabytes of records.
    public mutating func nextKey() throws(LMDBError) -> UInt64? {
        var key = MDB_val()
        let code = mdb_cursor_get(handle, &key, nil, started ? MDB_NEXT : MDB_FIRST)
        started = true
        if code == MDB_NOTFOUND { return nil }
        try check(code, "mdb_cursor_get", database.name)
        guard key.mv_size == 8 else {
            throw LMDBError(
                code: MDB_BAD_VALSIZE, operation: "mdb_cursor_get",
                context: "\(database.name): key of \(key.mv_size) bytes, not 8")
        }
        return UnsafeRawBufferPointer(start: key.mv_data, count: 8).loadUnaligned(as: UInt64.self)
    }

    /// The next entry with its key as raw bytes (for string-keyed databases).
    public mutating func nextRaw() throws(LMDBError) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        var key = MDB_val()
        var value = MDB_val()
        let code = mdb_cursor_get(handle, &key, &value, started ? MDB_NEXT : MDB_FIRST)
        started = true
        if code == MDB_NOTFOUND { return nil }
        try check(code, "mdb_cursor_get", database.name)
        return (
            UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size),
            UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
        )
    }
}

/// Where a database's bytes go: what `kindred store info` reports per space.
public struct SpaceUsage: Sendable, Equatable {
    public var entries: Int
    public var pageSize: Int
    public var branchPages: Int
    public var leafPages: Int
    /// Pages holding values too large for a leaf (a 1280-d float32 vector takes two of 4 KiB).
    public var overflowPages: Int

    public var bytes: Int { (branchPages + leafPages + overflowPages) * pageSize }
    public var bytesPerEntry: Double { entries == 0 ? 0 : Double(bytes) / Double(entries) }
}
