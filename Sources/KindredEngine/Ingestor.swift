import Dispatch
import Foundation
import KindredCore
import KindredFeatures
import KindredImaging
import KindredStore
import KindredWatch
import Logging
import Synchronization

/// Brings image files into the collection: catalog row, vectors in every standard space, index.
///
/// Each batch follows the commit order of Schema/lmdb.md: the rows are queued in SQLite (which
/// allocates their ids), the vectors of every space are written to LMDB in one transaction, then
/// the rows are marked indexed, and only then does the live index learn of them. A crash at any
/// point leaves what `StateRepair` fixes at start-up. Files that fail are recorded with their
/// reason and retried only when they change.
/// Owned by one ingestion thread at a time (the network inside keeps per-call buffers).
public final class Ingestor: @unchecked Sendable {
    /// The catalog and the vectors, and the order they are committed in.
    public let state: StateStore
    public var catalog: Catalog { state.catalog }
    public var store: VectorStore { state.vectors }
    public let indexes: LiveIndexes
    let network: EfficientNetLite0
    let threads: Int
    let logger: Logger
    public var decodeOptions = DecodeOptions()
    /// Decodes files suspected of killing the process in a child first (kindredd sets it).
    public var probe: DecodeProbe?
    /// Changes to the indexes (`LiveIndexes.changes`): a snapshot is due when it moved.
    public var changes: Int { indexes.changes }
    /// Where ingestion's time goes, stage by stage (STATUS `ingest_<stage>_s`).
    public let stages: StageClock

    public struct Report: Sendable, Equatable {
        public var indexed = 0
        public var unchanged = 0
        public var failed = 0
        public var missing = 0

        public init(indexed: Int = 0, unchanged: Int = 0, failed: Int = 0, missing: Int = 0) {
            self.indexed = indexed
            self.unchanged = unchanged
            self.failed = failed
            self.missing = missing
        }
    }

    public init(
        state: StateStore, indexes: LiveIndexes, network: EfficientNetLite0,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, stages: StageClock = StageClock(),
        logger: Logger
    ) {
        // What the cnn space's vectors mean is StandardSpaces' to say; a network pooling otherwise
        // would store vectors the index cannot compare with the rest.
        precondition(network.pooling == StandardSpaces.pooling, "use StandardSpaces.network(...)")
        self.state = state
        self.indexes = indexes
        self.network = network
        self.threads = threads
        self.stages = stages
        self.logger = logger
    }

    /// Ingests `paths` (absolute): new or changed files are extracted, unchanged ones skipped.
    /// `shouldStop` is asked between batches; what a stop leaves is still `queued` in the catalog,
    /// so the next scan picks it up. `batchDone` hears how many files each batch settled.
    public func ingest(
        _ paths: [String], rootID: Int64? = nil, shouldStop: () -> Bool = { false },
        batchDone: (Int) -> Void = { _ in }
    ) throws -> Report {
        var report = Report()
        var seen: [Catalog.SeenFile] = []
        for path in paths {
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                report.missing += 1
                continue
            }
            let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            seen.append(Catalog.SeenFile(path: path, size: Int64(info.st_size), mtimeNs: mtime))
        }
        // A file whose decode was attempted before and never ended (Schema/catalog/004_trust.sql)
        // killed the process or shared a batch with one that did, or was in flight when kindredd
        // was killed for another reason. With a probe, each such suspect is decoded first in a
        // child process: only a file that kills the child is marked failed. Without one (an
        // ingestor inside a test), suspects go one at a time and a second death marks the file.
        var work: [WorkItem] = [], suspects: [WorkItem] = [], killers: [(ItemID, String)] = []
        for (item, needed) in try catalog.enqueue(seen, rootID: rootID) {
            guard needed else { report.unchanged += 1; continue }
            let entry = WorkItem(id: item.itemID!, path: item.path, previous: item)
            switch item.attempts {
            case 0: work.append(entry)
            case 1: suspects.append(entry)
            default: if probe == nil { killers.append((entry.id, Self.killedReason)) } else { suspects.append(entry) }
            }
        }
        let options = decodeOptions
        var cleared: [WorkItem] = []
        let claims = ContentClaims()
        for suspect in suspects where !shouldStop() {
            guard let probe else { cleared.append(suspect); continue }
            if let death = probe.run(suspect.path, options: options) {
                logger.error(
                    "a file kills the decoder; it is marked failed",
                    metadata: ["path": "\(suspect.path)", "probe": "\(death)"])
                killers.append(
                    (
                        suspect.id,
                        "the decoder crashed or ran out of memory on this file (\(death)); it is retried when the file changes"
                    ))
            } else {
                cleared.append(suspect)
            }
        }
        if !killers.isEmpty {
            for id in try state.fail(killers.map { ($0.0, $0.1, nil) }) { indexes.remove(label: id.rawValue) }
            report.failed += killers.count
        }
        batchDone(paths.count - work.count - cleared.count)
        // Suspects one at a time with nothing prepared ahead, so a death names one file.
        for suspect in cleared where !shouldStop() {
            try catalog.markAttempted([suspect.id])
            let extracted = Self.extract(
                suspect.path, knownHash: suspect.previous.contentHash,
                twin: Self.twinFinder(for: suspect.id, in: state, claims: claims),
                options: options, clock: stages)
            let outcome = try commit([suspect], [extracted], options: options, claims: claims, final: true)
            outcome.add(to: &report)
            batchDone(1)
        }
        // Reading and decoding the next files overlaps the CNN and the commit of those before
        // (a slow file holds up only its own worker). Each range of files is recorded as
        // attempted before any of it is read.
        let catalog = self.catalog, logger = self.logger, ids = work.map(\.id), clock = stages, state = self.state
        // Files whose bytes another file of this call is still describing: a chunk holds files in
        // the order they finished, and one that took its twin's vectors finishes long before the
        // twin's decode, so it waits for the chunk its twin lands in.
        var waiting: [(item: WorkItem, extracted: Extracted)] = []
        try ChunkPipeline.run(
            work, chunkSize: max(1, threads * network.batchSize), threads: threads, clock: clock,
            willPrepare: { range in
                do { try catalog.markAttempted(Array(ids[range])) } catch {
                    logger.warning("cannot record decode attempts", metadata: ["error": "\(error)"])
                }
            },
            prepare: {
                Self.extract(
                    $0.path, knownHash: $0.previous.contentHash,
                    twin: Self.twinFinder(for: $0.id, in: state, claims: claims), options: options, clock: clock)
            }
        ) { (extracted, indices) throws(any Error) in
            let outcome = try commit(
                waiting.map(\.item) + indices.map { work[$0] }, waiting.map(\.extracted) + extracted,
                options: options, claims: claims, final: false)
            batchDone(indices.count + waiting.count - outcome.waiting.count)
            waiting = outcome.waiting
            outcome.add(to: &report)
        } shouldStop: {
            shouldStop()
        }
        if !waiting.isEmpty && !shouldStop() {
            let outcome = try commit(
                waiting.map(\.item), waiting.map(\.extracted), options: options, claims: claims, final: true)
            batchDone(waiting.count)
            outcome.add(to: &report)
        }
        return report
    }

    /// Fault injection for the crash-quarantine tests: decoding a file of this name kills the
    /// process, as a decoder crash or the OOM killer would. Read once from the environment.
    static let faultAbortName = ProcessInfo.processInfo.environment["KINDRED_FAULT_ABORT_ON"]

    /// Why a file that killed the process twice (with no probe to ask) is not tried again.
    static let killedReason =
        "the decoder crashed or ran out of memory on this file (twice); it is retried when the file changes"

    /// A file whose size or modification time differs from the catalog's (or that is new).
    private struct WorkItem: Sendable {
        var id: ItemID
        var path: String
        /// The catalog row as it was: its content hash says whether the bytes really changed.
        var previous: CatalogItem
    }

    /// What the CPU-heavy first stage makes of one file.
    private struct Extracted: Sendable {
        var hash = "", format = "", width = 0, height = 0
        var style: [Float] = [], phash: [UInt8] = [], thumb: [UInt8] = []
        var image: RGBImage?
        var failure: String?
        /// The bytes hash as before (a touch, a copy with new times): nothing was decoded.
        var sameContent = false
        /// Another item has these bytes (a link to the same file, a copy): nothing was decoded,
        /// and its vectors are taken.
        var twin: Twin?
    }

    /// Where the vectors of a file whose bytes another item has come from.
    private enum Twin: Sendable {
        /// An indexed item with current vectors in every standard space.
        case indexed(CatalogItem)
        /// A file of this ingestion call that claimed the bytes first and is describing them.
        case claimedBy(ItemID)
    }

    /// An indexed item other than `id` with the given content hash and current vectors in every
    /// standard space (any thread). A lookup that fails finds nothing: the file is described as
    /// any other.
    private static func indexedTwin(_ hash: String, excluding id: ItemID, in state: StateStore) -> CatalogItem? {
        guard let twin = try? state.catalog.indexedItem(contentHash: hash, excluding: id), let twinID = twin.itemID,
            (try? state.vectors.hasCurrentVectors(twinID, in: StandardSpaces.all.map(\.name))) == true
        else { return nil }
        return twin
    }

    /// Finds the item whose vectors a file with these bytes takes: an indexed one, else the file
    /// of this call that claimed the bytes first. Finding neither, the file claims them and is
    /// described.
    private static func twinFinder(
        for id: ItemID, in state: StateStore, claims: ContentClaims
    ) -> @Sendable (String) -> Twin? {
        { hash in
            if let twin = indexedTwin(hash, excluding: id, in: state) { return .indexed(twin) }
            return claims.claim(hash, for: id).map(Twin.claimedBy)
        }
    }

    /// What a decode probe runs: the same read, decode and description as ingestion, in the child.
    /// Exit status 0 when the file decoded, 3 when it was refused with a reason.
    public static func probeDecode(_ path: String, options: DecodeOptions) -> Int32 {
        // The child's stage times are nobody's to report: a clock of its own, dropped.
        extract(path, knownHash: nil, twin: nil, options: options, clock: StageClock()).failure == nil ? 0 : 3
    }

    /// Reads, hashes, decodes and describes one file (any thread). When the hash equals
    /// `knownHash` the file's content is what was already extracted, and when `twin` finds an
    /// item with these bytes its vectors will do: either way decoding is skipped.
    private static func extract(
        _ path: String, knownHash: String?, twin: (@Sendable (String) -> Twin?)?, options: DecodeOptions,
        clock: StageClock
    ) -> Extracted {
        if let name = faultAbortName, path.hasSuffix("/" + name) { abort() }
        clock.countFiles()
        var extracted = Extracted()
        do throws(ImageError) {
            // At most `options.maxFileBytes` are read: a larger file is refused before it is held.
            let file = try clock.measure(.read) { () throws(ImageError) in try ImageFile(path: path, options: options) }
            extracted.hash = clock.measure(.hash) {
                var checksum = Checksum()
                checksum.update(file.bytes)
                return String(checksum.value, radix: 16)
            }
            if extracted.hash == knownHash {
                extracted.sameContent = true
                return extracted
            }
            if let found = twin?(extracted.hash) {
                extracted.twin = found
                return extracted
            }
            let decoded = try file.decode(options: options, clock: clock)
            extracted.format = decoded.format.rawValue
            extracted.width = decoded.originalWidth
            extracted.height = decoded.originalHeight
            // What is described is the picture as `StandardSpaces.framing` prepares it; the
            // thumbnail shows the file as it is.
            let described = clock.measure(.frame) { StandardSpaces.framing.prepare(decoded.image) }
            extracted.image = described
            extracted.style = clock.measure(.style) { StyleDescriptor.compute(described) }
            extracted.phash = clock.measure(.phash) { PerceptualHash.bytes(PerceptualHash.compute(described)) }
            extracted.thumb = clock.measure(.thumbnail) { StandardSpaces.thumbnail(of: decoded.image) }
        } catch {
            extracted.failure = error.reason
        }
        return extracted
    }

    /// What a commit settled, and the files it left waiting for a twin still being described.
    private struct Outcome {
        var indexed = 0, failed = 0, unchanged = 0
        var waiting: [(item: WorkItem, extracted: Extracted)] = []

        func add(to report: inout Report) {
            report.indexed += indexed
            report.failed += failed
            report.unchanged += unchanged
        }
    }

    /// The second stage: files whose content is unchanged and still has its vectors are marked
    /// indexed as they are; failures recorded; the CNN over the rest, then the commit. Unless
    /// `final`, a file whose twin another file of this call is still describing waits
    /// (`Outcome.waiting`), to be committed again with a later batch.
    private func commit(
        _ batch: [WorkItem], _ given: [Extracted], options: DecodeOptions, claims: ContentClaims, final: Bool
    ) throws -> Outcome {
        var extracted = given
        // Whatever happens below, the bytes this batch claimed are settled by its end: later
        // files find them in the catalog, or describe them anew.
        defer { claims.release(batch.indices.map { (extracted[$0].hash, batch[$0].id, extracted[$0].failure) }) }
        var confirmed: [Catalog.Extraction] = []
        for i in batch.indices where extracted[i].sameContent {
            let previous = batch[i].previous
            if try store.vector(batch[i].id, space: StandardSpaces.cnn.name) != nil,
                indexes.cnn.index.contains(label: batch[i].id.rawValue)
            {
                confirmed.append(
                    Catalog.Extraction(
                        id: batch[i].id, contentHash: extracted[i].hash, width: previous.width, height: previous.height,
                        format: previous.format))
            } else {
                // Same bytes but no vectors (it failed before, or they were lost): extract after all.
                extracted[i] = Self.extract(batch[i].path, knownHash: nil, twin: nil, options: options, clock: stages)
            }
        }
        try stages.measure(.store) { try state.confirm(confirmed) }
        // Paths to bytes already described take that item's vectors; should they have gone since
        // the lookup, the file is described after all. Paths to bytes a file of this batch
        // claimed take that file's vectors once the network has run (`siblings`), or its failure.
        var taken: [(i: Int, row: StateStore.Indexed, cnn: [Float], style: [Float], phash: [UInt8])] = []
        var siblings: [(i: Int, claimer: Int)] = []
        var waiting: [Int] = []
        let positions = Dictionary(batch.indices.map { (batch[$0].id, $0) }, uniquingKeysWith: { first, _ in first })
        for i in batch.indices {
            guard let twin = extracted[i].twin else { continue }
            let found: CatalogItem?
            switch twin {
            case .indexed(let item): found = item
            case .claimedBy(let holder):
                if let j = positions[holder], extracted[j].twin == nil, !extracted[j].sameContent {
                    if let failure = extracted[j].failure {
                        extracted[i].twin = nil
                        extracted[i].failure = failure
                    } else {
                        siblings.append((i, j))
                    }
                    continue
                }
                // The claimer was in a chunk committed before this one, or is still being described.
                found = Self.indexedTwin(extracted[i].hash, excluding: batch[i].id, in: state)
                if found == nil && !final && claims.holder(of: extracted[i].hash) == holder {
                    waiting.append(i)
                    continue
                }
                // Its claimer failed in an earlier chunk: the same bytes fail for the same
                // reason, as they do for a twin in the claimer's own chunk, without a second read.
                if found == nil, let failure = claims.failure(of: extracted[i].hash) {
                    extracted[i].twin = nil
                    extracted[i].failure = failure
                    continue
                }
            }
            if let found,
                let copy = try stages.measure(
                    .store, { try vectors(of: found, for: batch[i].id, hash: extracted[i].hash) })
            {
                taken.append((i, copy.row, copy.cnn, copy.style, copy.phash))
            } else {
                extracted[i] = Self.extract(batch[i].path, knownHash: nil, twin: nil, options: options, clock: stages)
            }
        }
        let pending = batch.indices.filter { !extracted[$0].sameContent && extracted[$0].twin == nil }
        let left = waiting.map { (batch[$0], extracted[$0]) }
        let good = pending.filter { extracted[$0].failure == nil }
        let failures = pending.filter { extracted[$0].failure != nil }.map { i in
            logger.debug("image failed", metadata: ["path": "\(batch[i].path)", "reason": "\(extracted[i].failure!)"])
            return (batch[i].id, extracted[i].failure!, extracted[i].hash.isEmpty ? nil : extracted[i].hash)
        }
        // A file that changed into something unreadable loses the vectors of what it was, in the
        // store and then in the index, or SIMILAR would keep answering with a picture that is gone.
        try stages.measure(.store) { _ = try state.fail(failures) }
        for (id, _, _) in failures { self.indexes.remove(label: id.rawValue) }
        let failed = failures.count
        guard !good.isEmpty || !taken.isEmpty else {
            return Outcome(failed: failed, unchanged: confirmed.count, waiting: left)
        }
        let (features, classes) =
            good.isEmpty
            ? ([], [])
            : stages.measure(.cnn) {
                network.embedAndClassify(good.map { extracted[$0].image! }, framing: StandardSpaces.framing)
            }
        // Steps 2 and 3 of the commit order (StateStore), then the index. A sibling's row is its
        // claimer's, under its own id.
        let dimension = StandardSpaces.cnn.dimension
        let rowOf = Dictionary(uniqueKeysWithValues: good.enumerated().map { ($1, $0) })
        // (the network's row, the extracted file, the item whose row it becomes)
        let described: [(Int, Int, Int)] =
            good.enumerated().map { ($0, $1, $1) } + siblings.map { (rowOf[$0.claimer]!, $0.claimer, $0.i) }
        var rows = described.map { row, i, owner in
            let e = extracted[i]
            return StateStore.Indexed(
                extraction: Catalog.Extraction(
                    id: batch[owner].id, contentHash: e.hash, width: e.width, height: e.height, format: e.format,
                    imagenetClass: classes[row]),
                vectors: [
                    (
                        StandardSpaces.cnn.name,
                        .floats(Array(features[(row * dimension)..<((row + 1) * dimension)]))
                    ),
                    (StandardSpaces.style.name, .floats(e.style)), (StandardSpaces.phash.name, .bytes(e.phash)),
                    (StandardSpaces.thumb.name, .bytes(e.thumb)),
                ])
        }
        rows += taken.map(\.row)
        try stages.measure(.store) { try state.index(rows) }
        // What the indexes learn: each row's cnn and style vectors, its hash and its label.
        let inserts =
            described.map { row, i, owner in
                (
                    cnn: Array(features[(row * dimension)..<((row + 1) * dimension)]), style: extracted[i].style,
                    phash: extracted[i].phash, label: batch[owner].id.rawValue
                )
            } + taken.map { (cnn: $0.cnn, style: $0.style, phash: $0.phash, label: batch[$0.i].id.rawValue) }
        // The index takes concurrent inserts; at efConstruction 200 over 1280-d vectors each costs
        // a few milliseconds, which on one thread would be a quarter of ingestion's time.
        let failure = Mutex<(any Error)?>(nil)
        let indexes = self.indexes, clock = stages
        DispatchQueue.concurrentPerform(iterations: min(threads, inserts.count)) { worker in
            for row in stride(from: worker, to: inserts.count, by: threads) {
                do {
                    try clock.measure(.index) {
                        try indexes.insert(
                            cnn: inserts[row].cnn, style: inserts[row].style, phash: inserts[row].phash,
                            label: inserts[row].label)
                    }
                } catch {
                    failure.withLock { $0 = error }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        stages.countShared(taken.count + siblings.count)
        return Outcome(
            indexed: good.count + siblings.count + taken.count, failed: failed, unchanged: confirmed.count,
            waiting: left)
    }

    /// The vectors in every standard space of the item `found` by the lookup, as the row of item
    /// `id` (whose file has the same bytes, `hash`), with its cnn and style vectors for the
    /// index; nil when any is missing now, or when that item's own file changed since it was found
    /// (a batch committed in between re-extracted it). This thread is the only writer, so nothing
    /// moves between the check and the reads.
    private func vectors(
        of found: CatalogItem, for id: ItemID, hash: String
    ) throws -> (row: StateStore.Indexed, cnn: [Float], style: [Float], phash: [UInt8])? {
        guard let twinID = found.itemID, let twin = try catalog.item(twinID), twin.status == .indexed,
            twin.contentHash == hash,
            let cnn = try store.vector(twinID, space: StandardSpaces.cnn.name),
            let style = try store.vector(twinID, space: StandardSpaces.style.name),
            let phash = try store.vector(twinID, space: StandardSpaces.phash.name, as: UInt8.self),
            let thumb = try store.vector(twinID, space: StandardSpaces.thumb.name, as: UInt8.self)
        else { return nil }
        let extraction = Catalog.Extraction(
            id: id, contentHash: hash, width: twin.width, height: twin.height, format: twin.format,
            imagenetClass: try catalog.imagenetClasses([twinID])[0])
        let vectors: [(String, StateStore.Vector)] = [
            (StandardSpaces.cnn.name, .floats(cnn)), (StandardSpaces.style.name, .floats(style)),
            (StandardSpaces.phash.name, .bytes(phash)), (StandardSpaces.thumb.name, .bytes(thumb)),
        ]
        return (StateStore.Indexed(extraction: extraction, vectors: vectors), cnn, style, phash)
    }

    public func remove(path: String) throws -> Bool {
        guard let id = try catalog.item(path: path)?.itemID else { return false }
        try remove(id: id)
        return true
    }
}

extension Ingestor {
    /// Removes an item by id: its row first, then its vectors, then the index entry.
    func remove(id: ItemID) throws {
        try remove(ids: [id])
    }

    /// Removes items in the deletion order of Schema/lmdb.md, a batch per transaction (one
    /// disk sync for a whole directory, not one per file).
    func remove(ids: [ItemID]) throws {
        try state.remove(ids) { batch in
            for id in batch { indexes.remove(label: id.rawValue) }
        }
    }

    /// Removes every item under a directory that was deleted or moved out of the roots.
    @discardableResult
    public func remove(directory: CollectionPath) throws -> Int {
        let ids = try catalog.itemIDs(under: directory).sorted().map { ItemID($0) }
        try remove(ids: ids)
        return ids.count
    }

    /// Removes the items no root covers any more: UNWATCH drops the root first and its items
    /// after, so a stop in between leaves these. Run at start, before the first scan.
    @discardableResult
    public func removeOutsideRoots() throws -> Int {
        let orphans = try catalog.itemsOutsideRoots(try catalog.rootSet())
        try remove(ids: orphans)
        return orphans.count
    }

    /// Removes the items under `directory` whose files are no longer there (changes while
    /// kindredd was down, or lost events). Items in a subdirectory the listing could not read are
    /// kept: a failed listing is never taken as a deletion. Returns how many went.
    @discardableResult
    public func removeVanished(
        under directory: CollectionPath, present: Set<String>, unknown: Listing = Listing()
    ) throws -> Int {
        let paths = try catalog.paths(under: directory)
        let gone = paths.filter { !present.contains($0.value) && !unknown.isUnknown($0.value) }.keys.sorted()
        try remove(ids: gone)
        return gone.count
    }

    /// A file moved within the roots keeps its id. When its size and modification time are as
    /// before, that is all; otherwise it is ingested again, where its content hash decides
    /// whether the vectors still hold (a move that touched the times) or it is extracted anew.
    /// A file already at the destination (a rename over it) is removed first, vectors and index
    /// node included, so nothing is left keyed by its id.
    public func rename(from: String, to: String) throws {
        if let item = try catalog.item(path: from), let id = item.itemID {
            if let displaced = try state.move(id, to: to) { indexes.remove(label: displaced.rawValue) }
            var info = stat()
            if stat(to, &info) == 0, Int64(info.st_size) == item.size,
                Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec) == item.mtimeNs
            {
                return
            }
        } else if let source = try? CollectionPath(from), let destination = try? CollectionPath(to),
            case let items = try catalog.paths(under: source), !items.isEmpty
        {
            // A directory: move every item under it.
            for (id, path) in items {
                guard let moved = (try? CollectionPath(path))?.moved(from: source, to: destination) else { continue }
                if let displaced = try state.move(id, to: moved.string) { indexes.remove(label: displaced.rawValue) }
            }
            return
        }
        _ = try ingest([to])
    }
}
