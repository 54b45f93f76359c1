import Dispatch
import Foundation
import KindredCore
import KindredIndex
import KindredStore
import Logging
import Synchronization

/// The HNSW index over one space, kept in step with the vector store: labels are item ids. It is
/// derived data, so start-up loads the snapshot if it is sound and then reconciles it with the
/// store (adding what the snapshot missed, removing what the store no longer has), or rebuilds it
/// from the store when the snapshot is missing or damaged, or was built with another M than the
/// configured one. A snapshot of another encoding keeps its graph and is re-encoded from the store.
///
/// An index of compact codes (`VectorEncoding.int8`, `.int4`, `.float16`) walks its graph on the
/// codes and re-ranks the candidates with the vectors in the store (`search`), so answers carry
/// exact distances while the index holds a quarter (an eighth, half) of the float bytes in memory.
public final class LiveIndex: Sendable {
    public let index: HNSWIndex
    public let space: String
    let store: VectorStore
    /// Set when a change the store committed could not be made to the index (an insert that
    /// threw): from then on no snapshot of it is recorded as current, and the next start reconciles.
    let outOfStep = Atomic<Bool>(false)
    /// Inserts, removals and compactions since the index was opened (through `LiveIndexes`).
    let changeCount = Atomic<Int>(0)

    init(index: HNSWIndex, space: String, store: VectorStore) {
        self.index = index
        self.space = space
        self.store = store
    }

    /// The `k` nearest items to `query`, with exact distances: the graph walk (on codes or floats),
    /// then, for codes, the `ef` best candidates re-ranked against the stored vectors in one read
    /// transaction. `excluding`, `filter` and `among` are `HNSWIndex.search`'s.
    public func search(
        _ query: [Float], k: Int, ef: Int, excluding: UInt64? = nil, filter: ((UInt64) -> Bool)? = nil,
        among: [UInt64]? = nil
    ) throws -> [Neighbor] {
        guard index.encoding != .float32 else {
            return try index.search(query, k: k, ef: ef, excluding: excluding, filter: filter, among: among)
        }
        return try store.withReader(space: space) { reader in
            try index.search(query, k: k, ef: ef, excluding: excluding, filter: filter, among: among, exact: reader)
        }
    }

    /// The walk's `k` best for a caller that re-ranks them itself (the fused SIMILAR): the
    /// nearest `exactly` by the codes carry exact distances, and the rest the codes' approximate
    /// ones. The source returned holds the vectors of exactly the candidates whose distances are
    /// exact, so the caller can tell them apart and read again from memory; it reads any other it
    /// needs from the store. A float index's distances are all exact, and its own rows are the
    /// source. Reading all 64 candidates, as a fused SIMILAR did, made it cost twice a plain
    /// one (RESULTS.md, "The fused ranking's reads from memory").
    public func searchRecording(
        _ query: [Float], k: Int, ef: Int, exactly: Int, excluding: UInt64? = nil,
        filter: ((UInt64) -> Bool)? = nil, among: [UInt64]? = nil
    ) throws -> ([Neighbor], any ExactVectors) {
        let found = try index.search(query, k: k, ef: ef, excluding: excluding, filter: filter, among: among)
        guard index.encoding != .float32 else { return (found, index) }
        return try store.withReader(space: space) { reader in
            let recorder = RecordedVectors.Recorder(reader, dimension: index.dimension, expected: exactly)
            let head = try index.exactDistances(Array(found.prefix(exactly)), to: query, by: recorder)
            let all = (head + found.dropFirst(exactly)).sorted {
                $0.distance < $1.distance || ($0.distance == $1.distance && $0.label < $1.label)
            }
            return (all, recorder.recorded)
        }
    }

    public struct OpenReport: Sendable, Equatable {
        public var loadedSnapshot = false
        public var added = 0
        /// Items in the snapshot whose vectors were re-extracted after it was taken.
        public var updated = 0
        public var removed = 0
        public var rebuilt = false
        /// Whether the snapshot's graph was kept with its rows re-encoded (a changed encoding).
        public var reencoded = false
        /// Whether the loaded snapshot was checked against every record of the store (not when
        /// `SnapshotGeneration` proved it current).
        public var reconciled = false
        /// Whether the snapshot was of an older file format: it is rewritten at the next stop.
        public var olderFormat = false

        public init(
            loadedSnapshot: Bool = false, added: Int = 0, updated: Int = 0, removed: Int = 0, rebuilt: Bool = false,
            reencoded: Bool = false, reconciled: Bool = false, olderFormat: Bool = false
        ) {
            self.olderFormat = olderFormat
            self.reencoded = reencoded
            self.reconciled = reconciled
            self.loadedSnapshot = loadedSnapshot
            self.updated = updated
            self.added = added
            self.removed = removed
            self.rebuilt = rebuilt
        }
    }

    /// Opens the index for `space` from `snapshot` and the store, as described above.
    /// `changedSince` names the items whose vectors were written at or after a time (the catalog's
    /// `last_indexed`): those re-extracted after the snapshot was taken get their new vectors.
    ///
    /// With a sound snapshot only the store's keys are read, and the vectors of the items that
    /// changed: a restart at a million items reads megabytes, not the gigabytes of vectors. A
    /// snapshot `isCurrent` (proved by `SnapshotGeneration`) is not reconciled at all.
    public static func open(
        snapshot: URL, store: VectorStore, space: String, parameters: HNSWParameters = HNSWParameters(),
        encoding: VectorEncoding = .float32, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        changedSince: (Date) throws -> Set<UInt64> = { _ in [] }, isCurrent: Bool = false,
        progress: BuildProgress = BuildProgress(), logger: Logger
    ) throws -> (LiveIndex, OpenReport) {
        var report = OpenReport()
        guard let dimension = store.spaces[space]?.dimension else {
            throw VectorStoreError(.unknownSpace(known: store.spaces.keys.sorted()), space: space)
        }
        var index: HNSWIndex?
        if FileManager.default.fileExists(atPath: snapshot.path) {
            do {
                let loaded = try HNSWIndex.load(from: snapshot, logger: logger)
                // A different M is a different graph: links cannot be added to or dropped from a
                // built one, so a changed [index] m takes effect by a rebuild. A changed encoding
                // keeps the graph and writes each row afresh from the store (`reencoded`).
                if loaded.dimension == dimension && loaded.metric == .cosine
                    && loaded.parameters.connectivity == parameters.connectivity
                {
                    if loaded.encoding == encoding {
                        index = loaded
                    } else {
                        let started = ContinuousClock.now
                        index = try store.withReader(space: space) { reader in
                            try loaded.reencoded(as: encoding, from: reader)
                        }
                        report.reencoded = true
                        logger.notice(
                            "index snapshot re-encoded from the store",
                            metadata: [
                                "space": "\(space)", "from": "\(loaded.encoding)", "to": "\(encoding)",
                                "took": "\(ContinuousClock.now - started)",
                            ])
                    }
                    report.loadedSnapshot = true
                    report.olderFormat = loaded.loadedFromOlderFormat
                } else {
                    logger.warning(
                        "index snapshot does not match the store or the configuration; rebuilding",
                        metadata: [
                            "snapshot": "\(snapshot.path)",
                            "snapshot_m": "\(loaded.parameters.connectivity)", "m": "\(parameters.connectivity)",
                            "snapshot_encoding": "\(loaded.encoding)", "encoding": "\(encoding)",
                        ])
                }
            } catch {
                logger.warning("index snapshot unusable; rebuilding", metadata: ["reason": "\(error)"])
            }
        }
        guard let index else {
            let (ids, matrix) = try store.readMatrix(space: space)
            let built = try HNSWIndex.build(
                matrix, labels: ids.map(\.rawValue), metric: .cosine, parameters: parameters, encoding: encoding,
                threads: threads, progress: progress, logger: logger)
            report.rebuilt = true
            report.added = ids.count
            return (LiveIndex(index: built, space: space, store: store), report)
        }
        if isCurrent { return (LiveIndex(index: index, space: space, store: store), report) }
        report.reconciled = true
        let ids = try store.ids(space: space)
        let present = Set(ids.map(\.rawValue))
        // Whole seconds, and a second's margin: re-inserting an unchanged vector costs only time.
        let taken =
            (try? FileManager.default.attributesOfItem(atPath: snapshot.path)[.modificationDate] as? Date)
            ?? .distantPast
        let changed = try changedSince(taken.addingTimeInterval(-2))
        for id in ids where !index.contains(label: id.rawValue) || changed.contains(id.rawValue) {
            let known = index.contains(label: id.rawValue)
            guard let vector = try store.vector(id, space: space) else { continue }
            try index.insert(vector, label: id.rawValue)
            if known { report.updated += 1 } else { report.added += 1 }
        }
        for label in index.liveLabels() where !present.contains(label) {
            index.remove(label: label)
            report.removed += 1
        }
        return (LiveIndex(index: index, space: space, store: store), report)
    }
}

/// One live index per searchable space: CNN embeddings (the default) and style descriptors.
/// Each has its own snapshot file in the state directory (`index-<space>.hnsw`). With them, the
/// perceptual hashes the fused ranking compares (`LiveHashes`), loaded from the store after each
/// start and changed where the indexes are.
public struct LiveIndexes: Sendable {
    public let cnn: LiveIndex
    public let style: LiveIndex
    public let hashes: LiveHashes

    public init(cnn: LiveIndex, style: LiveIndex, hashes: LiveHashes = LiveHashes()) {
        self.cnn = cnn
        self.style = style
        self.hashes = hashes
    }

    public var all: [LiveIndex] { [cnn, style] }

    public func callAsFunction(_ space: String) -> LiveIndex? { all.first { $0.space == space } }

    /// Opens every space's index as `LiveIndex.open` does.
    /// Temporary snapshot files a killed process left behind are removed first.
    public static func open(
        paths: StatePaths, store: VectorStore, catalog: Catalog? = nil, parameters: HNSWParameters = HNSWParameters(),
        cnnEncoding: VectorEncoding = .int8, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        progress: IngestProgress? = nil, logger: Logger
    ) throws -> (LiveIndexes, [String: LiveIndex.OpenReport]) {
        var reports: [String: LiveIndex.OpenReport] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: paths.root.path)) ?? []
        where name.hasPrefix("index-") && name.contains(".hnsw.tmp-") {
            try? FileManager.default.removeItem(at: paths.root.appendingPathComponent(name))
            logger.notice("removed a snapshot left half-written", metadata: ["file": "\(name)"])
        }
        let changedSince = { @Sendable (time: Date) throws -> Set<UInt64> in
            try catalog?.itemIDs(indexedSince: time) ?? []
        }
        let record = SnapshotGeneration.read(paths), generation = store.generation
        // The CNN index is the large one (1280-d); the style index (142-d floats, 568 bytes a row)
        // stays exact. The two open at once: a restart reads two snapshots (2.2 GB at a million
        // items) and reconciles two spaces, and each mostly waits on memory, not on the other.
        // Each on a thread of its own, not inside a concurrentPerform: a build's own
        // concurrentPerform nested in one runs on a share of the cores (at a million items the
        // first CNN build took twice as long, on one core).
        let spaces = [StandardSpaces.cnn.name, StandardSpaces.style.name]
        let opened = Mutex<[String: Result<(LiveIndex, LiveIndex.OpenReport), any Error>]>([:])
        let done = DispatchGroup()
        // What STATUS shows while a space's index is built from the store (`index_loading`).
        let builds = Dictionary(uniqueKeysWithValues: spaces.map { ($0, BuildProgress()) })
        progress?.update { $0.indexBuilds = builds }
        defer { progress?.update { $0.indexBuilds = [:] } }
        for space in spaces {
            done.enter()
            Thread.detachNewThread {
                let result = Result {
                    try LiveIndex.open(
                        snapshot: paths.index(space: space), store: store, space: space, parameters: parameters,
                        encoding: space == StandardSpaces.cnn.name ? cnnEncoding : .float32, threads: threads,
                        changedSince: changedSince,
                        isCurrent: record?.proves(
                            space: space, snapshot: paths.index(space: space), generation: generation) ?? false,
                        progress: builds[space]!, logger: logger)
                }
                opened.withLock { $0[space] = result }
                done.leave()
            }
        }
        done.wait()
        var indexes: [String: LiveIndex] = [:]
        for space in spaces {
            let (index, report) = try opened.withLock { $0[space]! }.get()
            indexes[space] = index
            reports[space] = report
        }
        let hashes = LiveHashes.loading(from: store, logger: logger)
        return (LiveIndexes(cnn: indexes[spaces[0]]!, style: indexes[spaces[1]]!, hashes: hashes), reports)
    }

    /// Writes every snapshot (each atomically: a temporary file, then a rename).
    /// The generation is read first: the caller (the ingestion thread, the only writer of items,
    /// or a stop after it) makes no commit while the snapshots are written, so they reflect it.
    public func save(in paths: StatePaths) throws {
        let generation = cnn.store.generation
        try SnapshotGeneration.remove(paths)
        var stamps: [String: SnapshotGeneration.FileStamp] = [:]
        for index in all {
            let file = paths.index(space: index.space)
            try index.index.save(to: file)
            if !index.outOfStep.load(ordering: .relaxed) {
                stamps[index.space] = SnapshotGeneration.FileStamp(of: file)
            }
        }
        try SnapshotGeneration(generation: generation, snapshots: stamps).write(paths)
    }

    /// Changes made to the indexes since they were opened (inserts, removals, compactions, an
    /// insert that threw included): a snapshot is due when this moved since the last one.
    public var changes: Int { all.reduce(0) { $0 + $1.changeCount.load(ordering: .relaxed) } }

    func insert(cnn cnnVector: [Float], style styleVector: [Float], phash: [UInt8], label: UInt64) throws {
        defer { for index in all { index.changeCount.add(1, ordering: .relaxed) } }
        hashes.set(phash, label: label)
        do { try cnn.index.insert(cnnVector, label: label) } catch {
            cnn.outOfStep.store(true, ordering: .relaxed)
            throw error
        }
        do { try style.index.insert(styleVector, label: label) } catch {
            style.outOfStep.store(true, ordering: .relaxed)
            throw error
        }
    }

    func remove(label: UInt64) {
        hashes.remove(label: label)
        for index in all where index.index.remove(label: label) { index.changeCount.add(1, ordering: .relaxed) }
    }

    /// Compacts each index whose deleted nodes (tombstones of removed and re-extracted items)
    /// are at least `fraction` of its live ones and at least `minimum` in number: they cost memory
    /// and searches walk through them, and left alone they only grow. Searches wait while an index
    /// compacts (it relinks the graph on every core). Returns the nodes detached, by space.
    @discardableResult
    public func compactIfWorthIt(fraction: Double = 0.1, minimum: Int = 1000) -> [String: Int] {
        var detached: [String: Int] = [:]
        for live in all {
            let deleted = live.index.deletedCount
            guard deleted >= minimum, Double(deleted) >= fraction * Double(max(1, live.index.count)) else { continue }
            detached[live.space] = live.index.compact().detached
            live.changeCount.add(1, ordering: .relaxed)
        }
        return detached
    }
}

/// The store's reader is where a compact-code index finds the exact vectors to re-rank by.
extension VectorReader: ExactVectors {}
