import CKindredKernels
import CLMDB
import Foundation
import KindredCore
import Logging

/// Vectors by item id, one LMDB database per space (Schema/lmdb.md).
///
/// Writes go through `write`, one transaction per batch, so a batch of items is durable or absent
/// as a whole. Reads see a consistent snapshot and never wait for the writer.
///
/// The store owns how a float space is stored: callers put and get `Float`s, and a space stored
/// as float16 (the CNN's, half the bytes: one 4 KiB page a 1280-d record instead of two) is
/// converted on the way in and out. A space whose stored element changes between float32 and
/// float16 is migrated when the store opens (`migrate`), in batches that each commit, and every
/// record says its own element, so a migration cut short leaves a readable store and resumes.
public final class VectorStore: Sendable {
    /// Internal: copies and syncs go through `StateStore`, which owns the order of commits.
    let environment: LMDBEnvironment
    /// The spaces this store was opened with, by name.
    public let spaces: [String: VectorSpace]
    private let databases: [String: LMDBDatabase]
    let registry: LMDBDatabase
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
            if let stored, stored.dimension != space.dimension || stored.element.isFloat != space.element.isFloat {
                throw VectorStoreError(.spaceChanged(stored: stored), space: space.name)
            }
            let database = try Self.mapErrors(space: space.name) { try environment.database(space.databaseName) }
            if let stored, stored.element != space.element {
                let moved = try Self.migrate(space, database: database, environment: environment)
                logger.notice(
                    "vector space migrated to a new element type",
                    metadata: [
                        "space": "\(space.name)", "from": "\(stored.element)", "to": "\(space.element)",
                        "records": "\(moved)",
                    ])
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
            opened[space.name] = database
        }
        self.environment = environment
        self.registry = registry
        self.spaces = Dictionary(uniqueKeysWithValues: spaces.map { ($0.name, $0) })
        databases = opened
        cleanStopMarker = directory.appendingPathComponent("clean-stop")
        var info = stat()
        dataFileInode = stat(directory.appendingPathComponent("data.mdb").path, &info) == 0 ? UInt64(info.st_ino) : 0
        openedAfterCleanStop = try Self.takeCleanStop(cleanStopMarker, fingerprint: Self.fingerprint(spaces))
    }

    // MARK: The clean-stop marker

    /// Where `markCleanStop` leaves its marker, beside the LMDB files.
    let cleanStopMarker: URL
    /// Whether the last process to open this store stopped cleanly (`markCleanStop`) with these
    /// same spaces and producers: then what start-up scans for (an interrupted commit, records
    /// of an older producer) cannot be there. Every open consumes the marker, durably, before
    /// anything is written, so a crash, or any other writer (an import, a dropped space) after
    /// it, leaves none and the next start scans.
    public let openedAfterCleanStop: Bool

    /// Which store this is and how far it has been written: LMDB's data file (its inode, new
    /// for every new or restored environment) and its last committed transaction id, which every
    /// write moves on. What a derived copy (an index snapshot) records, so that finding it
    /// unchanged proves the copy still holds exactly what the store does.
    public struct Generation: Codable, Equatable, Sendable {
        public var dataFile: UInt64
        public var transaction: Int
    }

    public var generation: Generation {
        Generation(dataFile: dataFileInode, transaction: environment.lastTransactionID)
    }

    /// The inode of LMDB's `data.mdb`, read at open.
    private let dataFileInode: UInt64

    /// Records a clean stop: called last, after the final commits are synced.
    public func markCleanStop() throws(VectorStoreError) {
        let temporary = cleanStopMarker.appendingPathExtension("tmp")
        do {
            try Data(Self.fingerprint(Array(spaces.values)).utf8).write(to: temporary)
            try FileIO.sync(temporary.path)
            guard rename(temporary.path, cleanStopMarker.path) == 0 else { throw POSIXError(.EIO) }
            try FileIO.sync(cleanStopMarker.deletingLastPathComponent().path)
        } catch {
            throw VectorStoreError(.stateFile("cannot write \(cleanStopMarker.path): \(error)"))
        }
    }

    private static func takeCleanStop(_ marker: URL, fingerprint: String) throws(VectorStoreError) -> Bool {
        guard let bytes = try? FileIO.readWhole(marker.path, limit: 64 << 10) else { return false }
        let text = String(decoding: bytes, as: UTF8.self)
        guard unlink(marker.path) == 0 || errno == ENOENT else {
            throw VectorStoreError(.stateFile("cannot remove \(marker.path): \(String(cString: strerror(errno)))"))
        }
        do { try FileIO.sync(marker.deletingLastPathComponent().path) } catch {
            throw VectorStoreError(.stateFile("cannot sync \(marker.deletingLastPathComponent().path): \(error)"))
        }
        return text == fingerprint
    }

    /// The spaces as the marker records them: names, shapes and producer versions, sorted.
    private static func fingerprint(_ spaces: [VectorSpace]) -> String {
        spaces.sorted { $0.name < $1.name }.map { "\($0.name) \($0.dimension) \($0.element) \($0.producer)" }
            .joined(separator: "\n")
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

    /// Rewrites every record of `space` whose element is not the space's (float32 ↔ float16),
    /// 4,096 records a transaction. Returns how many were rewritten. Producer versions are kept:
    /// a migration changes how a vector is stored, not what made it.
    static func migrate(
        _ space: VectorSpace, database: LMDBDatabase, environment: LMDBEnvironment
    ) throws(VectorStoreError) -> Int {
        let keys: [UInt64] = try mapErrors(space: space.name) {
            try environment.read { txn in
                try txn.withCursor(database) { cursor in
                    var keys: [UInt64] = []
                    while let key = try cursor.nextKey() { keys.append(key) }
                    return keys
                }
            }
        }
        var moved = 0
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: space.dimension)
        defer { floats.deallocate() }
        for start in stride(from: 0, to: keys.count, by: 4096) {
            try mapErrors(space: space.name) {
                try environment.write { txn in
                    for key in keys[start..<min(keys.count, start + 4096)] {
                        guard let record = try txn.get(database, key) else { continue }
                        let header: VectorRecordHeader
                        do { header = try VectorRecordHeader.decode(record, space: space) } catch {
                            throw VectorStoreError(
                                error as! VectorStoreError.Reason, space: space.name, item: ItemID(key))
                        }
                        guard header.element != space.element else { continue }
                        copyFloats(record, header, into: floats.baseAddress!)
                        let rewritten = VectorRecordHeader(
                            element: space.element, dimension: space.dimension, producer: header.producer)
                        try txn.put(database, key, count: space.recordSize) { out in
                            rewritten.encode(into: out)
                            storeFloats(UnsafeBufferPointer(floats), element: space.element, into: out)
                        }
                        moved += 1
                    }
                }
            }
        }
        return moved
    }

    /// Copies a float record's payload (float32 or float16) into `destination` as floats.
    static func copyFloats(
        _ record: UnsafeRawBufferPointer, _ header: VectorRecordHeader, into destination: UnsafeMutablePointer<Float>
    ) {
        let payload = record.baseAddress! + VectorRecordHeader.size
        if header.element == .float16 {
            // Records start anywhere in the map; the halves are read unaligned by the kernel.
            kk_halves_to_floats(payload.assumingMemoryBound(to: UInt16.self), destination, header.dimension)
        } else {
            UnsafeMutableRawPointer(destination).copyMemory(from: payload, byteCount: header.dimension * 4)
        }
    }

    /// Writes `values` after a record's header in `element` (float32 or float16).
    static func storeFloats(
        _ values: UnsafeBufferPointer<Float>, element: VectorElement, into record: UnsafeMutableRawBufferPointer
    ) {
        let payload = record.baseAddress! + VectorRecordHeader.size
        if element == .float16 {
            kk_floats_to_halves(values.baseAddress!, payload.assumingMemoryBound(to: UInt16.self), values.count)
        } else {
            payload.copyMemory(from: values.baseAddress!, byteCount: values.count * 4)
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
            guard E.self == Float.self || E.self == UInt8.self, element.isFloat == space.element.isFloat else {
                throw VectorStoreError(.elementMismatch(expected: space.element, got: element), space: name, item: id)
            }
            guard values.count == space.dimension else {
                throw VectorStoreError(
                    .dimensionMismatch(expected: space.dimension, got: values.count), space: name, item: id)
            }
            if space.element.isFloat,
                let (index, value) = values.withMemoryRebound(to: Float.self, { space.element.firstUnstorable($0) })
            {
                throw VectorStoreError(
                    .unstorableValue(index: index, value: value, element: space.element), space: name, item: id)
            }
            let header = VectorRecordHeader(
                element: space.element, dimension: space.dimension, producer: space.producer)
            try VectorStore.mapErrors(space: name, item: id) {
                try txn.put(db, id.rawValue, count: space.recordSize) { record in
                    header.encode(into: record)
                    if space.element.isFloat {
                        values.withMemoryRebound(to: Float.self) {
                            VectorStore.storeFloats($0, element: space.element, into: record)
                        }
                    } else {
                        UnsafeMutableRawBufferPointer(rebasing: record[VectorRecordHeader.size...])
                            .copyMemory(from: UnsafeRawBufferPointer(values))
                    }
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
        try vectors([id], space: name, as: E.self)[0]
    }

    /// Items' vectors in `space`, in the order asked (nil for one without a vector), from one
    /// read transaction: a re-ranking reads its hundred candidates in one. Specialised for both
    /// element types, so a query's reads do not look up generic metadata each time.
    @_specialize(where E == Float)
    @_specialize(where E == UInt8)
    public func vectors<E: NpyElement>(
        _ ids: [ItemID], space name: String, as: E.Type = Float.self
    ) throws(VectorStoreError) -> [[E]?] {
        let (space, db) = try lookup(name, item: ids.count == 1 ? ids[0] : nil)
        try Self.mapErrors(space: name) { try Self.requireElement(E.self, of: space) }
        return try Self.mapErrors(space: name) {
            try environment.read { txn in
                try ids.map { id in
                    try Self.mapErrors(space: name, item: id) { () throws -> [E]? in
                        guard let record = try txn.get(db, id.rawValue) else { return nil }
                        let header = try VectorRecordHeader.decode(record, space: space)
                        return [E](unsafeUninitializedCapacity: space.dimension) { buffer, count in
                            Self.copyPayload(record, header, into: UnsafeMutableRawPointer(buffer.baseAddress!))
                            count = space.dimension
                        }
                    }
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
        let payload = space.dimension * MemoryLayout<E>.stride
        return try Self.mapErrors(space: name) {
            try Self.requireElement(E.self, of: space)
            return try environment.read { txn in
                let count = try txn.count(db)
                var ids: [ItemID] = []
                ids.reserveCapacity(count)
                var failure: (any Error)?
                let values = [E](unsafeUninitializedCapacity: count * space.dimension) { buffer, initialised in
                    let destination = UnsafeMutableRawPointer(buffer.baseAddress!)
                    do {
                        try txn.withCursor(db) { cursor in
                            while ids.count < count, let (key, record) = try cursor.next() {
                                let header: VectorRecordHeader
                                do { header = try VectorRecordHeader.decode(record, space: space) } catch {
                                    throw VectorStoreError(
                                        error as! VectorStoreError.Reason, space: name, item: ItemID(key))
                                }
                                Self.copyPayload(record, header, into: destination + ids.count * payload)
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

    /// The ids that have a vector in `space`, ascending. Only the keys are read: at a million
    /// items the records' own pages (4 GB and more) are never touched, so a restart that only
    /// needs to know which items exist stays fast.
    public func ids(space name: String) throws(VectorStoreError) -> [ItemID] {
        let db = try lookup(name, item: nil).1
        return try Self.mapErrors(space: name) {
            try environment.read { txn in
                var result: [ItemID] = []
                result.reserveCapacity(try txn.count(db))
                try txn.withCursor(db) { cursor in
                    while let key = try cursor.nextKey() { result.append(ItemID(key)) }
                }
                return result
            }
        }
    }

    /// Calls `body` with a reader of `space`'s vectors as floats, all read in one transaction:
    /// what a search re-ranks its candidates with. What the reader hands out is valid only inside
    /// the call it is handed to.
    public func withReader<R>(
        space name: String, _ body: (VectorReader) throws -> R
    ) throws(VectorStoreError) -> R {
        let (space, db) = try lookup(name, item: nil)
        guard space.element.isFloat else {
            throw VectorStoreError(.elementMismatch(expected: .float32, got: space.element), space: name)
        }
        return try Self.mapErrors(space: name) {
            try environment.read { txn in
                let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: space.dimension)
                defer { scratch.deallocate() }
                return try body(VectorReader(transaction: txn, database: db, space: space, scratch: scratch))
            }
        }
    }

    /// Items whose vector in `space` was made by an older producer version: what to re-extract
    /// after a model or feature upgrade.
    public func staleItems(space name: String) throws(VectorStoreError) -> [ItemID] {
        let current = try lookup(name, item: nil).0.producer
        return try scan(space: name) { $0.producer != current }
    }

    /// Whether item `id` has, in each of `spaces`, a vector its space's current producer made:
    /// whether another path to the same bytes may take its vectors instead of being described.
    public func hasCurrentVectors(_ id: ItemID, in spaces: [String]) throws(VectorStoreError) -> Bool {
        var found: [(VectorSpace, LMDBDatabase)] = []
        for name in spaces { found.append(try lookup(name, item: id)) }
        return try Self.mapErrors(space: nil, item: id) {
            try environment.read { txn in
                try found.allSatisfy { space, db in
                    guard let record = try txn.get(db, id.rawValue) else { return false }
                    return try VectorRecordHeader.decode(record, space: space).producer == space.producer
                }
            }
        }
    }

    /// Whether item `id` has a vector in any space (a key lookup per space; nothing is copied).
    public func hasAny(_ id: ItemID) throws(VectorStoreError) -> Bool {
        try Self.mapErrors(space: nil, item: id) {
            try environment.read { txn in try databases.values.contains { try txn.get($0, id.rawValue) != nil } }
        }
    }

    /// Reads `space`'s records in key order, one page at a time, so they are in the page cache
    /// before searches need them; returns the bytes read, or nil when the space is larger than
    /// `budget` (reading it would only evict itself). Why: a search re-ranks its candidates from
    /// the store, so after a start with a cold cache every SIMILAR waits on tens of random disk
    /// reads (at a million items a SIMILAR took over a second; RESULTS.md). One thread faulting the
    /// records in order keeps a single read in flight, so the searches' own reads are not queued
    /// behind gigabytes of read-ahead, as they were behind `posix_fadvise(WILLNEED)` of the file.
    /// It holds one read transaction throughout (seconds at a million items).
    @discardableResult
    public func warm(space name: String, budget: Int) throws(VectorStoreError) -> Int? {
        let db = try lookup(name, item: nil).1
        let usage = try usage(space: name)
        guard usage.bytes <= budget else { return nil }
        return try Self.mapErrors(space: name) {
            try environment.read { txn in
                var bytes = 0
                var sum: UInt8 = 0
                try txn.withCursor(db) { cursor in
                    while let (_, value) = try cursor.next() {
                        for offset in stride(from: 0, to: value.count, by: usage.pageSize) { sum &+= value[offset] }
                        bytes += value.count
                    }
                }
                Self.keep(sum)
                return bytes
            }
        }
    }

    /// Takes the bytes `warm` read, so the optimiser cannot drop the reads that fault pages in.
    @_optimize(none) private static func keep(_ value: UInt8) {}

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

    /// Float spaces are read as `Float`, byte spaces as `UInt8`, whatever the stored element.
    static func requireElement<E>(_ type: E.Type, of space: VectorSpace) throws(VectorStoreError.Reason) {
        let asked: VectorElement = E.self == Float.self ? .float32 : .uint8
        guard E.self == Float.self || E.self == UInt8.self, asked.isFloat == space.element.isFloat else {
            throw .elementMismatch(expected: space.element, got: asked)
        }
    }

    /// A record's payload into `destination`: floats converted from float16, else copied.
    static func copyPayload(
        _ record: UnsafeRawBufferPointer, _ header: VectorRecordHeader, into destination: UnsafeMutableRawPointer
    ) {
        if header.element.isFloat {
            copyFloats(record, header, into: destination.assumingMemoryBound(to: Float.self))
        } else {
            destination.copyMemory(from: record.baseAddress! + VectorRecordHeader.size, byteCount: header.dimension)
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

/// Float vectors of one space, read inside one LMDB read transaction (`VectorStore.withReader`).
public struct VectorReader {
    let transaction: LMDBTransaction
    let database: LMDBDatabase
    let space: VectorSpace
    /// Where a record that is not float-aligned in the map is copied.
    let scratch: UnsafeMutableBufferPointer<Float>

    /// Calls `body` with item `label`'s vector, or returns nil if it has none or its record is
    /// damaged (a search then keeps the distance it had).
    public func withVector<R>(_ label: UInt64, _ body: (UnsafeBufferPointer<Float>) -> R) -> R? {
        guard let (record, header) = record(label) else { return nil }
        return body(floats(record, header))
    }

    /// Looks every label up, hints the CPU to fetch the start of each record, then reads them in
    /// turn. A re-rank reads 30 records or more, each on its own page of the map: one at a time,
    /// the first touch of each was a cache miss of its own (the record header's check took 4 % of
    /// a SIMILAR's samples, RESULTS.md).
    public func forEachVector(_ labels: [UInt64], _ body: (Int, UnsafeBufferPointer<Float>?) -> Void) {
        withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer?.self, capacity: labels.count) { records in
            for (i, label) in labels.enumerated() {
                let record = try? transaction.get(database, label)
                if let record, let start = record.baseAddress { kk_prefetch_bytes(start, min(record.count, 256)) }
                records.initializeElement(at: i, to: record)
            }
            for i in labels.indices {
                guard let (record, header) = checked(records[i]) else {
                    body(i, nil)
                    continue
                }
                body(i, floats(record, header))
            }
        }
    }

    /// A checked record's vector as floats: in place when the record holds aligned float32,
    /// otherwise decoded or copied into `scratch` (valid until the next read).
    private func floats(_ record: UnsafeRawBufferPointer, _ header: VectorRecordHeader) -> UnsafeBufferPointer<Float> {
        let payload = UnsafeRawBufferPointer(rebasing: record[VectorRecordHeader.size...])
        if header.element == .float16 {
            VectorStore.copyFloats(record, header, into: scratch.baseAddress!)
            return UnsafeBufferPointer(scratch)
        }
        if Int(bitPattern: payload.baseAddress) % MemoryLayout<Float>.alignment == 0 {
            return UnsafeBufferPointer(
                start: payload.baseAddress!.assumingMemoryBound(to: Float.self), count: space.dimension)
        }
        UnsafeMutableRawBufferPointer(scratch).copyMemory(from: payload)
        return UnsafeBufferPointer(scratch)
    }

    /// Decodes item `label`'s vector straight into `destination`; false when it has none, its
    /// record is damaged, or it is not `destination.count` long.
    public func copyVector(_ label: UInt64, into destination: UnsafeMutableBufferPointer<Float>) -> Bool {
        guard let (record, header) = record(label), header.dimension == destination.count else { return false }
        VectorStore.copyFloats(record, header, into: destination.baseAddress!)
        return true
    }

    /// Item `label`'s record and its checked header; nil when it has none or the record is damaged.
    private func record(_ label: UInt64) -> (UnsafeRawBufferPointer, VectorRecordHeader)? {
        checked(try? transaction.get(database, label))
    }

    /// A record with its checked header; nil when there is none or it is damaged.
    private func checked(_ record: UnsafeRawBufferPointer?) -> (UnsafeRawBufferPointer, VectorRecordHeader)? {
        guard let record, let header = try? VectorRecordHeader.decode(record, space: space) else {
            return nil
        }
        return (record, header)
    }
}
