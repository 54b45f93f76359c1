import CLMDB
import Foundation
import KindredCore
import Logging

/// Vectors by item id, one LMDB database per space (Schema/lmdb.md).
///
/// Writes go through `write`, one transaction per batch, so a batch of items is durable or absent
/// as a whole. Reads see a consistent snapshot and never wait for the writer.
public final class VectorStore: Sendable {
    /// Internal: copies and syncs go through `StateStore`, which owns the order of commits.
    let environment: LMDBEnvironment
    /// The spaces this store was opened with, by name.
    public let spaces: [String: VectorSpace]
    private let databases: [String: LMDBDatabase]
    private let registry: LMDBDatabase
    private let logger: Logger

    /// The registry of spaces lives in its own string-keyed database.
    static let registryName = "spaces"

    /// Opens or creates the store in `directory` with the given spaces. A space already on disk
    /// must have the same dimension and element type; a new `producer` version is recorded, and
    /// older records become stale (see `staleItems`). With `includeRegistered`, spaces already on
    /// disk are opened too, as recorded (what offline tools that do not know the spaces want).
    public init(
        directory: URL, spaces requested: [VectorSpace], includeRegistered: Bool = false,
        options: LMDBEnvironment.Options = .init(), logger: Logger
    ) throws(VectorStoreError) {
        self.logger = logger
        let environment: LMDBEnvironment
        let registry: LMDBDatabase
        do throws(LMDBError) {
            environment = try LMDBEnvironment(directory: directory, options: options, logger: logger)
            registry = try environment.database(Self.registryName, integerKeys: false)
        } catch {
            throw VectorStoreError(.lmdb(error))
        }
        var spaces = requested
        if includeRegistered {
            let known = Set(requested.map(\.name))
            spaces += try Self.registeredSpaces(environment, registry).filter { !known.contains($0.name) }
        }
        var opened: [String: LMDBDatabase] = [:]
        for space in spaces {
            let stored = try Self.mapErrors(space: space.name) {
                try environment.read { txn in try txn.get(registry, space.name).map { Data($0) } }
            }.map { data throws(VectorStoreError) in
                do { return try JSONDecoder().decode(VectorSpace.self, from: data) } catch {
                    throw VectorStoreError(
                        .corruptRegistry("entry is not a space descriptor: \(error)"), space: space.name)
                }
            }
            if let stored, stored.dimension != space.dimension || stored.element != space.element {
                throw VectorStoreError(.spaceChanged(stored: stored), space: space.name)
            }
            if stored != space {
                if let stored {
                    logger.notice(
                        "vector space has a new producer; older records are stale",
                        metadata: ["space": "\(space.name)", "from": "\(stored.producer)", "to": "\(space.producer)"])
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = .sortedKeys
                let data = try! encoder.encode(space)  // a struct of strings and numbers always encodes
                try Self.mapErrors(space: space.name) {
                    try environment.write { txn in
                        try txn.put(registry, space.name, count: data.count) { data.copyBytes(to: $0) }
                    }
                }
            }
            opened[space.name] = try Self.mapErrors(space: space.name) { try environment.database(space.databaseName) }
        }
        self.environment = environment
        self.registry = registry
        self.spaces = Dictionary(uniqueKeysWithValues: spaces.map { ($0.name, $0) })
        databases = opened
    }

    /// Every space recorded in the store, including ones this process did not open.
    public func registeredSpaces() throws(VectorStoreError) -> [VectorSpace] {
        try Self.registeredSpaces(environment, registry)
    }

    private static func registeredSpaces(
        _ environment: LMDBEnvironment, _ registry: LMDBDatabase
    ) throws(VectorStoreError) -> [VectorSpace] {
        try mapErrors(space: nil) {
            try environment.read { txn in
                try txn.withCursor(registry) { cursor in
                    var found: [VectorSpace] = []
                    while let (_, value) = try cursor.nextRaw() {
                        found.append(try JSONDecoder().decode(VectorSpace.self, from: Data(value)))
                    }
                    return found
                }
            }
        }
    }

    /// Deletes a space and all its vectors, so it can be created again with another shape.
    /// Returns how many vectors went. The space must not be open in this store.
    public func dropSpace(_ name: String) throws(VectorStoreError) -> Int {
        guard spaces[name] == nil else {
            throw VectorStoreError(.corruptRegistry("cannot drop a space this process has open"), space: name)
        }
        let databaseName = VectorSpace(name: name, dimension: 0).databaseName
        let database = try Self.mapErrors(space: name) { try environment.database(databaseName, create: false) }
        return try Self.mapErrors(space: name) {
            try environment.write { txn in
                let count = try txn.count(database)
                try txn.drop(database)
                try txn.delete(registry, name)
                environment.forget(databaseName)
                return count
            }
        }
    }

    // MARK: Writing

    /// Writes in one transaction: all of it commits, or none.
    public func write(_ body: (Batch) throws(VectorStoreError) -> Void) throws(VectorStoreError) {
        try Self.mapErrors(space: nil) {
            try environment.write { txn in try body(Batch(store: self, txn: txn)) }
        }
    }

    /// The writes of one transaction.
    public struct Batch {
        let store: VectorStore
        let txn: LMDBTransaction

        /// Stores `values` as item `id`'s vector in `space`, replacing any earlier one.
        public func put<E: NpyElement>(
            _ id: ItemID, _ values: UnsafeBufferPointer<E>, space name: String
        ) throws(VectorStoreError) {
            let (space, db) = try store.lookup(name, item: id)
            let element: VectorElement = E.self == Float.self ? .float32 : .uint8
            guard E.self == Float.self || E.self == UInt8.self, element == space.element else {
                throw VectorStoreError(.elementMismatch(expected: space.element, got: element), space: name, item: id)
            }
            guard values.count == space.dimension else {
                throw VectorStoreError(
                    .dimensionMismatch(expected: space.dimension, got: values.count), space: name, item: id)
            }
            let header = VectorRecordHeader(
                element: space.element, dimension: space.dimension, producer: space.producer)
            try VectorStore.mapErrors(space: name, item: id) {
                try txn.put(db, id.rawValue, count: space.recordSize) { record in
                    header.encode(into: record)
                    UnsafeMutableRawBufferPointer(rebasing: record[VectorRecordHeader.size...])
                        .copyMemory(from: UnsafeRawBufferPointer(values))
                }
            }
        }

        public func put<E: NpyElement>(_ id: ItemID, _ values: [E], space: String) throws(VectorStoreError) {
            try values.withUnsafeBufferPointer { (buffer) throws(VectorStoreError) in try put(id, buffer, space: space)
            }
        }

        /// Deletes item `id` from every space; returns how many records went.
        @discardableResult
        public func delete(_ id: ItemID) throws(VectorStoreError) -> Int {
            try VectorStore.mapErrors(space: nil, item: id) {
                try store.databases.values.reduce(0) { removed, db in
                    removed + (try txn.delete(db, id.rawValue) ? 1 : 0)
                }
            }
        }
    }

    // MARK: Reading

    /// Item `id`'s vector in `space`, or nil if it has none.
    public func vector<E: NpyElement>(
        _ id: ItemID, space name: String, as: E.Type = Float.self
    ) throws(VectorStoreError) -> [E]? {
        let (space, db) = try lookup(name, item: id)
        return try Self.mapErrors(space: name, item: id) {
            try environment.read { txn in
                guard let record = try txn.get(db, id.rawValue) else { return nil }
                _ = try VectorRecordHeader.decode(record, space: space)
                return [E](unsafeUninitializedCapacity: space.dimension) { buffer, count in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: record[VectorRecordHeader.size...]))
                    count = space.dimension
                }
            }
        }
    }

    /// Every vector of `space`, in id order, copied straight from the map into one contiguous
    /// row-major buffer: the input every analysis and index build starts from.
    public func readAll<E: NpyElement>(
        space name: String, as: E.Type = Float.self
    ) throws(VectorStoreError) -> (ids: [ItemID], values: [E]) {
        let (space, db) = try lookup(name, item: nil)
        let payload = space.dimension * space.element.byteSize
        return try Self.mapErrors(space: name) {
            try environment.read { txn in
                let count = try txn.count(db)
                var ids: [ItemID] = []
                ids.reserveCapacity(count)
                var failure: (any Error)?
                let values = [E](unsafeUninitializedCapacity: count * space.dimension) { buffer, initialised in
                    let destination = UnsafeMutableRawPointer(buffer.baseAddress!)
                    do {
                        try txn.withCursor(db) { cursor in
                            while ids.count < count, let (key, record) = try cursor.next() {
                                do { _ = try VectorRecordHeader.decode(record, space: space) } catch {
                                    throw VectorStoreError(
                                        error as! VectorStoreError.Reason, space: name, item: ItemID(key))
                                }
                                (destination + ids.count * payload).copyMemory(
                                    from: record.baseAddress! + VectorRecordHeader.size, byteCount: payload)
                                ids.append(ItemID(key))
                            }
                        }
                    } catch { failure = error }
                    initialised = failure == nil ? ids.count * space.dimension : 0
                }
                if let failure { throw failure }
                return (ids, values)
            }
        }
    }

    /// `readAll` for float spaces, as a matrix.
    public func readMatrix(space: String) throws(VectorStoreError) -> (ids: [ItemID], matrix: Matrix) {
        let (ids, values) = try readAll(space: space, as: Float.self)
        return (ids, Matrix(rows: ids.count, columns: self.spaces[space]!.dimension, storage: values))
    }

    /// The ids that have a vector in `space`, ascending.
    public func ids(space name: String) throws(VectorStoreError) -> [ItemID] {
        try scan(space: name) { _ in true }
    }

    /// Items whose vector in `space` was made by an older producer version: what to re-extract
    /// after a model or feature upgrade.
    public func staleItems(space name: String) throws(VectorStoreError) -> [ItemID] {
        let current = try lookup(name, item: nil).0.producer
        return try scan(space: name) { $0.producer != current }
    }

    /// Whether item `id` has a vector in any space (a key lookup per space; nothing is copied).
    public func hasAny(_ id: ItemID) throws(VectorStoreError) -> Bool {
        try Self.mapErrors(space: nil, item: id) {
            try environment.read { txn in try databases.values.contains { try txn.get($0, id.rawValue) != nil } }
        }
    }

    /// The size of the memory map, in bytes (what `kindred store info` reports).
    public var mapSize: Int { environment.mapSize }

    /// The pages a space occupies in the store.
    public func usage(space name: String) throws(VectorStoreError) -> SpaceUsage {
        let db = try lookup(name, item: nil).1
        return try Self.mapErrors(space: name) { try environment.read { txn in try txn.usage(db) } }
    }

    public func count(space name: String) throws(VectorStoreError) -> Int {
        let db = try lookup(name, item: nil).1
        return try Self.mapErrors(space: name) { try environment.read { txn in try txn.count(db) } }
    }

    // MARK: Internals

    private func scan(space name: String, where keep: (VectorRecordHeader) -> Bool) throws(VectorStoreError) -> [ItemID]
    {
        let (space, db) = try lookup(name, item: nil)
        return try Self.mapErrors(space: name) {
            try environment.read { txn in
                try txn.withCursor(db) { cursor in
                    var result: [ItemID] = []
                    while let (key, record) = try cursor.next() {
                        let header: VectorRecordHeader
                        do { header = try VectorRecordHeader.decode(record, space: space) } catch {
                            throw VectorStoreError(error as! VectorStoreError.Reason, space: name, item: ItemID(key))
                        }
                        if keep(header) { result.append(ItemID(key)) }
                    }
                    return result
                }
            }
        }
    }

    func lookup(_ name: String, item: ItemID?) throws(VectorStoreError) -> (VectorSpace, LMDBDatabase) {
        guard let space = spaces[name], let db = databases[name] else {
            throw VectorStoreError(.unknownSpace(known: spaces.keys.sorted()), space: name, item: item)
        }
        return (space, db)
    }

    /// The one place errors from inside transactions become typed: a `VectorStoreError` passes
    /// through, an `LMDBError` or a record-header reason is given the space and item.
    static func mapErrors<T>(space: String?, item: ItemID? = nil, _ body: () throws -> T) throws(VectorStoreError) -> T
    {
        do {
            return try body()
        } catch let error as VectorStoreError {
            throw error
        } catch let error as LMDBError {
            throw VectorStoreError(.lmdb(error), space: space, item: item)
        } catch let reason as VectorStoreError.Reason {
            throw VectorStoreError(reason, space: space, item: item)
        } catch {
            throw VectorStoreError(.corruptRegistry("\(error)"), space: space, item: item)
        }
    }
}
