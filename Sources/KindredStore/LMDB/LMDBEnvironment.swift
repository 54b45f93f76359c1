import CLMDB
import Foundation
import KindredCore
import Logging
import Synchronization

/// One LMDB environment: a directory holding `data.mdb` and `lock.mdb`.
///
/// Readers never block the writer: LMDB gives each read transaction a snapshot (MVCC). The one
/// exception is growing the map, which LMDB allows only while this process has no transaction
/// open, so reads hold a shared lock and growth takes it exclusively for the moment it needs.
/// Writers are serialised, within this process by a mutex and across processes by LMDB.
public final class LMDBEnvironment: @unchecked Sendable {  // all mutable state is behind locks
    public struct Options: Sendable {
        /// The map size to start with. It doubles whenever a write fills it.
        public var initialMapSize: Int = 1 << 30
        /// Growth stops here and writes fail with MDB_MAP_FULL.
        public var maxMapSize: Int = 1 << 40
        public var maxDatabases: UInt32 = 64
        public var maxReaders: UInt32 = 512
        public init() {}
    }

    let handle: OpaquePointer
    public let path: String
    let options: Options
    let logger: Logger
    private let writer = Mutex<Void>(())
    private let mapLock = ReadWriteLock()
    private let databases = Mutex<[String: MDB_dbi]>([:])

    public init(directory: URL, options: Options = Options(), logger: Logger) throws(LMDBError) {
        path = directory.path
        self.options = options
        self.logger = logger
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw LMDBError(
                code: (error as NSError).code == NSFileWriteNoPermissionError ? EACCES : EIO,
                operation: "mkdir", context: path)
        }
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create", path)
        handle = env!
        do {
            try check(mdb_env_set_maxdbs(handle, options.maxDatabases), "mdb_env_set_maxdbs", path)
            try check(mdb_env_set_maxreaders(handle, options.maxReaders), "mdb_env_set_maxreaders", path)
            try check(mdb_env_set_mapsize(handle, options.initialMapSize), "mdb_env_set_mapsize", path)
            // NOTLS: read transactions belong to the caller, not the thread, so they can cross
            // Swift concurrency's thread hops.
            try check(mdb_env_open(handle, path, UInt32(MDB_NOTLS), 0o640), "mdb_env_open", path)
        } catch {
            mdb_env_close(handle)
            throw error
        }
        // A process killed with SIGKILL leaves its reader slot behind; clear those now.
        var dead: Int32 = 0
        mdb_reader_check(handle, &dead)
        if dead > 0 { logger.info("cleared stale LMDB readers", metadata: ["count": "\(dead)", "path": "\(path)"]) }
    }

    deinit { mdb_env_close(handle) }

    /// The current map size in bytes (after any growth by this or another process).
    public var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// The id of the last committed write transaction: it grows with every commit, by any process.
    public var lastTransactionID: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_last_txnid
    }

    /// Opens (creating if asked) a named database. Handles are cached for the environment's life.
    public func database(
        _ name: String, create: Bool = true, integerKeys: Bool = true
    ) throws(LMDBError) -> LMDBDatabase {
        if let dbi = databases.withLock({ $0[name] }) { return LMDBDatabase(dbi: dbi, name: name) }
        do {
            return try write { txn in
                var flags = UInt32(create ? MDB_CREATE : 0)
                if integerKeys { flags |= UInt32(MDB_INTEGERKEY) }
                var dbi: MDB_dbi = 0
                try check(mdb_dbi_open(txn.handle, name, flags, &dbi), "mdb_dbi_open", "\(path) database \(name)")
                databases.withLock { $0[name] = dbi }
                return LMDBDatabase(dbi: dbi, name: name)
            }
        } catch {
            throw error as! LMDBError  // the body throws only LMDBError
        }
    }

    /// Drops a cached handle after its database was deleted.
    func forget(_ name: String) { _ = databases.withLock { $0.removeValue(forKey: name) } }

    /// Runs `body` in a read-only snapshot. Values it sees are valid only inside the call.
    public func read<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        mapLock.lockShared()
        defer { mapLock.unlock() }
        let txn = try begin(readOnly: true)
        defer { mdb_txn_abort(txn.handle) }
        return try body(txn)
    }

    /// Runs `body` in a write transaction and commits it. If the map fills, the transaction is
    /// rolled back, the map doubled and `body` run again, so `body` must do nothing but LMDB work.
    public func write<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        try writer.withLock { _ in
            while true {
                let txn = try begin(readOnly: false)
                let result: T
                do {
                    result = try body(txn)
                } catch {
                    mdb_txn_abort(txn.handle)
                    if LMDBError.isMapFull(error) {
                        try grow()
                        continue
                    }
                    throw error
                }
                // mdb_txn_commit frees the transaction whether or not it succeeds.
                let code = mdb_txn_commit(txn.handle)
                if code == MDB_MAP_FULL {
                    try grow()
                    continue
                }
                try check(code, "mdb_txn_commit", path)
                return result
            }
        }
    }

    private func begin(readOnly: Bool) throws(LMDBError) -> LMDBTransaction {
        var txn: OpaquePointer?
        var code = mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn)
        if code == MDB_MAP_RESIZED {
            // Another process grew the map: adopt its size. This needs no open transaction here,
            // which a reader (holding the shared lock) cannot promise, so only writers adopt;
            // readers still see a consistent, if older-sized, map.
            if !readOnly { mdb_env_set_mapsize(handle, 0) }
            code = mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn)
        }
        try check(code, readOnly ? "mdb_txn_begin(read)" : "mdb_txn_begin(write)", path)
        return LMDBTransaction(handle: txn!, environmentPath: path)
    }

    private func grow() throws(LMDBError) {
        let current = mapSize
        guard current < options.maxMapSize else {
            throw LMDBError(code: MDB_MAP_FULL, operation: "grow", context: "\(path) at \(current) bytes")
        }
        let next = min(options.maxMapSize, current * 2)
        mapLock.lockExclusive()
        defer { mapLock.unlock() }
        try check(mdb_env_set_mapsize(handle, next), "mdb_env_set_mapsize", path)
        logger.info("grew vector store map", metadata: ["from": "\(current)", "to": "\(next)", "path": "\(path)"])
    }

    /// Copies the environment into the existing empty directory `directory` with LMDB's own copy
    /// (a read transaction, so writers go on; compacted: free pages are left out and the copy is
    /// renumbered), as `mdb_copy -c` does.
    public func copy(to directory: String) throws(LMDBError) {
        try check(mdb_env_copy2(handle, directory, UInt32(MDB_CP_COMPACT)), "mdb_env_copy2", directory)
    }

    /// Flushes to disk. Commits are already durable; this is for environments opened with
    /// relaxed sync flags.
    public func sync() throws(LMDBError) {
        try check(mdb_env_sync(handle, 1), "mdb_env_sync", path)
    }
}

/// A named database inside an environment.
public struct LMDBDatabase: Sendable, Hashable {
    let dbi: MDB_dbi
    public let name: String
}
