import CLMDB

/// Every failure of an LMDB call: which call, on what, and the MDB or errno code it returned.
/// Catch a specific one with `catch let e as LMDBError where e.code == MDB_MAP_FULL`.
public struct LMDBError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    /// The LMDB function that failed, e.g. `mdb_put`.
    public let operation: String
    /// What it was operating on: the environment path, a database name, a key.
    public let context: String

    public init(code: Int32, operation: String, context: String) {
        self.code = code
        self.operation = operation
        self.context = context
    }

    public var description: String {
        let message = String(cString: mdb_strerror(code))
        let fix: String
        switch code {
        case MDB_MAP_FULL: fix = " (the map could not grow further: raise storage.max_map_size)"
        case MDB_READERS_FULL: fix = " (too many open readers: finish long reads, or restart to clear stale ones)"
        case MDB_INVALID, MDB_VERSION_MISMATCH: fix = " (not an LMDB environment this build can open)"
        case MDB_CORRUPTED, MDB_PAGE_NOTFOUND:
            fix =
                " (the vector store is damaged: move the state directory's vectors/ aside and restart kindredd, which re-extracts every item)"
        default: fix = ""
        }
        return "\(operation) on \(context): \(message)\(fix)"
    }
}

/// An error of a higher layer that carries the LMDB error underneath it, so the environment can
/// still recognise a full map (and grow it) when the failure was wrapped on its way up.
public protocol WrapsLMDBError: Error {
    var lmdbError: LMDBError? { get }
}

extension LMDBError {
    static func isMapFull(_ error: any Error) -> Bool {
        let underlying = (error as? LMDBError) ?? (error as? WrapsLMDBError)?.lmdbError
        return underlying?.code == MDB_MAP_FULL
    }
}

@inline(__always)
func check(
    _ code: Int32, _ operation: @autoclosure () -> String, _ context: @autoclosure () -> String
) throws(LMDBError) {
    if code != MDB_SUCCESS { throw LMDBError(code: code, operation: operation(), context: context()) }
}
