import CKindredKernels
import Foundation
import KindredCore
import Logging
import Synchronization

/// Hierarchical Navigable Small World graph (Malkov & Yashunin, "Efficient and robust approximate
/// nearest neighbor search using Hierarchical Navigable Small World graphs", 2018).
///
/// Layout, after hnswlib: internal ids are slots 0..<capacity, kept apart from the caller's labels.
/// Rows (each vector in the index's `encoding`: floats, or compact codes) sit in one block, padded
/// to 64 bytes. Layer-0 links sit in one block, each node a count word and 2·M slots; a node's upper
/// layers are one small block of M + 1 words each.
///
/// With compact codes the walk compares codes, and `search` re-ranks its final candidates with the
/// exact vectors it is given (`ExactVectors`): the walk reads 2× (float16), 4× (int8) or about 7×
/// (int4, with its header) less memory and the answer's order and distances are exact.
///
/// Concurrency:
/// - Searches run concurrently with each other and with inserts. They take `storage` shared and
///   read link words atomically (acquire), so they see whole lists of fully linked nodes: a node's
///   vector and own links are written before any other node links to it.
/// - Inserts run concurrently with each other (the parallel build): each takes `storage` shared
///   and locks a node's stripe while changing that node's links.
/// - Growing capacity, removing deleted nodes (`compact`) and loading take `storage` exclusively.
/// - `mutations` orders whole changes against whole-index readers: inserts and removes take it
///   shared (they run together); `save`, `compact` and `ensureReachable` take it exclusively, so
///   a snapshot is one consistent moment. Searches never take it, so a snapshot of a million
///   items (seconds of writing) holds up ingestion, not queries. Order: `mutations`, then `storage`.
public final class HNSWIndex: @unchecked Sendable {  // see "Concurrency" above for the discipline
    public let dimension: Int
    public let metric: Metric
    public let parameters: HNSWParameters
    public let encoding: VectorEncoding
    let logger: Logger

    /// Components a row holds (`dimension` rounded up, zero-padded, so kernels need no tail) and the
    /// bytes it takes.
    let rowComponents: Int
    let rowBytes: Int
    /// Links per node on layers ≥ 1 (M) and on layer 0 (2·M).
    let maxLinks: Int
    let maxLinks0: Int
    /// m_L in the paper: 1 / ln(M).
    let levelMultiplier: Double
    let rowKernel: kk_code_fn
    /// A search's query against a row: `rowKernel`, except for int4 rows, which a query meets at
    /// int8 precision (`prepareQuery`), so only the rows' rounding is in the walk's distances.
    let queryKernel: kk_code_fn
    /// Bytes a search's query takes in that form.
    let queryBytes: Int
    /// The exact kernel re-ranking uses on float vectors.
    let floatKernel: kk_distance_fn
    /// How much of each row the walk prefetches when it gathers a node's neighbours: the first
    /// 256 bytes. The rest of a row is prefetched `prefetchAhead` distances before its own
    /// (`searchLayer`): fetching whole rows at the gather left the stream behind the loop.
    let prefetchBytes: Int
    /// How many distances ahead of the loop the rest of a row is prefetched: far enough that the
    /// row arrives as the kernel reaches it, so the faster the kernel, the further ahead. On a
    /// first-generation EPYC (AVX2, int8, 1280-d, 100k rows) leaving it to the hardware
    /// prefetcher left the kernel waiting on its row loads (72 % of its samples); two ahead took
    /// 23–34 % more queries a second, and four was slower. A 512-bit kernel finishes a row in
    /// about half the time, so on AVX-512 it is three: on Zen 5, 5–7 % more queries a second
    /// than two, the same as four (RESULTS.md, "Zen 5 at 100k and a million, and three cuts to a
    /// SIMILAR's CPU").
    static let prefetchAhead = kk_code_level() >= 2 ? 3 : 2

    /// The format version of the file this index was loaded from (set once, by `load`, before the
    /// index is shared); nil for one built in memory. An older version is rewritten at the next save.
    public internal(set) var loadedFormatVersion: Int?
    /// Whether this index came from a file of an older format than `save` writes.
    public var loadedFromOlderFormat: Bool { loadedFormatVersion.map { $0 < Int(Self.formatVersion) } ?? false }

    // Storage: reallocated only with `storage` held exclusively.
    var capacity = 0
    /// Rows live in `arena`; `rows` is its base, kept for the hot path.
    var arena: VectorArena
    var rows: UnsafeMutableRawPointer
    var links0: UnsafeMutablePointer<Atomic<UInt32>>
    var upperLinks: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt32>>?>
    var levels: UnsafeMutablePointer<UInt8>
    var labels: UnsafeMutablePointer<UInt64>
    var states: UnsafeMutablePointer<Atomic<UInt8>>

    let storage = ReadWriteLock()
    let mutations = ReadWriteLock()
    let nodeLocks = StripedLocks()
    /// Slots handed out so far: every id below it has been (or is being) initialised.
    let slotsUsed = Atomic<Int>(0)
    /// The entry point and top layer, packed so a reader sees both from one moment:
    /// (top layer + 1) << 32 | id. Zero means the index is empty.
    let entry = Atomic<UInt64>(0)
    /// Held for a whole insert whose node may rise above the top layer (rare), as hnswlib does.
    let topLayerLock = Mutex<Void>(())
    let book = Mutex<Bookkeeping>(Bookkeeping())
    private let contexts = Mutex<[SearchContext]>([])

    struct Bookkeeping {
        var slotByLabel = LabelTable<UInt32>()
        /// Slots of removed nodes that `compact` detached, ready for reuse.
        var freeSlots: [UInt32] = []
        var deletedCount = 0
    }

    enum NodeState: UInt8 {
        case live = 0
        /// Removed: never returned, still linked for navigation until `compact`.
        case deleted = 1
        /// Unlinked by `compact`; the slot waits in `freeSlots`.
        case free = 2
    }

    public init(
        dimension: Int, metric: Metric, parameters: HNSWParameters = HNSWParameters(),
        encoding: VectorEncoding = .float32, capacity: Int = 1024, logger: Logger
    ) throws(IndexError) {
        try parameters.validate(dimension: dimension)
        self.dimension = dimension
        self.metric = metric
        self.parameters = parameters
        self.encoding = encoding
        self.logger = logger
        rowComponents = encoding.paddedComponents(dimension: dimension)
        rowBytes = encoding.rowBytes(dimension: dimension)
        maxLinks = parameters.connectivity
        maxLinks0 = 2 * parameters.connectivity
        levelMultiplier = 1 / log(Double(max(parameters.connectivity, 2)))
        rowKernel = encoding.kernel(for: metric)
        queryKernel = encoding.queryKernel(for: metric)
        queryBytes = encoding.queryBytes(dimension: dimension)
        floatKernel = metric.kernel
        prefetchBytes = min(rowBytes, 256)
        arena = VectorArena(bytes: max(capacity, 16) * rowBytes)
        rows = arena.base
        links0 = Self.allocateLinks(0)
        upperLinks = .allocate(capacity: 0)
        levels = .allocate(capacity: 0)
        labels = .allocate(capacity: 0)
        states = .allocate(capacity: 0)
        grow(to: max(capacity, 16))
    }

    deinit {
        // Every slot up to `capacity` is initialised (nil when unused), and a load that throws
        // part-way has blocks past `slotsUsed`, so all of them are walked.
        for i in 0..<capacity { upperLinks[i]?.deallocate() }
        free(links0)
        upperLinks.deallocate()
        levels.deallocate()
        labels.deallocate()
        states.deallocate()
    }

    /// Live (searchable) nodes.
    public var count: Int { book.withLock { $0.slotByLabel.count } }
    /// Removed nodes still in the graph, waiting for `compact`.
    public var deletedCount: Int { book.withLock { $0.deletedCount } }
    /// Slots handed out (live, deleted and freed nodes): what the index's memory grows with.
    public var slotCount: Int { slotsUsed.load(ordering: .relaxed) }

    public func contains(label: UInt64) -> Bool { book.withLock { $0.slotByLabel[label] != nil } }

    // MARK: Storage

    /// Reallocates every block to hold `newCapacity` nodes (the rows only when they outgrow
    /// their arena's reservation). Callers hold `storage` exclusively (or own the index alone,
    /// as in init and load).
    func grow(to newCapacity: Int) {
        let old = capacity
        guard newCapacity > old else { return }
        func moved<T>(
            _ pointer: UnsafeMutablePointer<T>, _ perNode: Int, fill: (UnsafeMutablePointer<T>, Int) -> Void
        ) -> UnsafeMutablePointer<T> {
            let bigger = UnsafeMutablePointer<T>.allocate(capacity: newCapacity * perNode)
            bigger.moveInitialize(from: pointer, count: old * perNode)
            fill(bigger + old * perNode, (newCapacity - old) * perNode)
            pointer.deallocate()
            return bigger
        }
        if newCapacity * rowBytes > arena.capacity {
            let bigger = VectorArena(bytes: newCapacity * rowBytes)
            bigger.base.copyMemory(from: rows, byteCount: old * rowBytes)
            arena = bigger
            rows = bigger.base
        }
        let words = maxLinks0 + 1
        let newLinks = Self.allocateLinks(newCapacity * words)
        for i in 0..<(old * words) { (newLinks + i).initialize(to: Atomic(links0[i].load(ordering: .relaxed))) }
        for i in (old * words)..<(newCapacity * words) { (newLinks + i).initialize(to: Atomic(0)) }
        free(links0)
        links0 = newLinks
        upperLinks = moved(upperLinks, 1) { $0.initialize(repeating: nil, count: $1) }
        levels = moved(levels, 1) { $0.initialize(repeating: 0, count: $1) }
        labels = moved(labels, 1) { $0.initialize(repeating: 0, count: $1) }
        let newStates = UnsafeMutablePointer<Atomic<UInt8>>.allocate(capacity: newCapacity)
        for i in 0..<old { (newStates + i).initialize(to: Atomic(states[i].load(ordering: .relaxed))) }
        for i in old..<newCapacity { (newStates + i).initialize(to: Atomic(NodeState.free.rawValue)) }
        states.deallocate()
        states = newStates
        capacity = newCapacity
    }

    /// Room for `words` layer-0 link words, uninitialised, on 2 MiB pages where the kernel grants
    /// them (`HugePages`), freed with `free`: 260 MB at a million nodes with M = 32, which a restart
    /// faulted in 4 KiB at a time (19 % of its samples, `perf`). A walk reads a random node's links
    /// at every hop, but SIMILAR measured the same with either page size (RESULTS.md, "Restarting
    /// a million items"): its misses are the cache lines, not the TLB.
    static func allocateLinks(_ words: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        let bytes = words * MemoryLayout<Atomic<UInt32>>.stride
        guard let raw = HugePages.allocateBytes(bytes)?.baseAddress else {
            fatalError("out of memory for \(words) link words")
        }
        return raw.bindMemory(to: Atomic<UInt32>.self, capacity: words)
    }

    @inline(__always) func row(_ id: UInt32) -> UnsafeMutableRawPointer { rows + Int(id) * rowBytes }

    /// Hints the CPU to fetch the part of a row past its first `prefetchBytes`.
    @inline(__always) func prefetchTail(of id: UInt32) {
        kk_prefetch_bytes(row(id) + prefetchBytes, rowBytes - prefetchBytes)
    }

    /// The link list of `id` on `layer`: word 0 is the count, then the slots.
    @inline(__always) func linkList(_ id: UInt32, _ layer: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        layer == 0 ? links0 + Int(id) * (maxLinks0 + 1) : upperLinks[Int(id)]! + (layer - 1) * (maxLinks + 1)
    }

    @inline(__always) func maxLinks(onLayer layer: Int) -> Int { layer == 0 ? maxLinks0 : maxLinks }

    /// The walk's distance between two rows: exact for float rows, approximate for codes.
    @inline(__always) func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Float {
        distance(a, b, by: rowKernel)
    }

    /// The distance `kernel` gives: `rowKernel` between rows, `queryKernel` from a search's query.
    @inline(__always) func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, by kernel: kk_code_fn) -> Float {
        let d = kernel(a, b, rowComponents)
        return metric == .cosine ? 1 - d : d
    }

    @inline(__always) func isLive(_ id: UInt32) -> Bool {
        states[Int(id)].load(ordering: .relaxed) == NodeState.live.rawValue
    }

    /// Writes `source` as a row at `destination`, normalised for cosine; `scratch` (`dimension`
    /// floats) receives the normalised floats. Returns false for a zero or non-finite vector,
    /// which has no direction to compare.
    func prepare(
        _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableRawPointer,
        scratch: UnsafeMutableBufferPointer<Float>
    ) -> Bool {
        guard normalize(source, into: scratch) else { return false }
        encoding.encode(UnsafeBufferPointer(scratch), into: destination, dimension: dimension)
        return true
    }

    /// Writes a search's query at `destination` in the form `queryKernel` reads: a row, or for
    /// int4 rows an int8 row (`VectorEncoding.encodeQuery`). Returns false as `prepare` does.
    func prepareQuery(
        _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableRawPointer,
        scratch: UnsafeMutableBufferPointer<Float>
    ) -> Bool {
        guard normalize(source, into: scratch) else { return false }
        encoding.encodeQuery(UnsafeBufferPointer(scratch), into: destination, dimension: dimension)
        return true
    }

    /// `source` into `scratch`, scaled to unit length for cosine; false for a zero or non-finite
    /// vector.
    private func normalize(
        _ source: UnsafeBufferPointer<Float>, into scratch: UnsafeMutableBufferPointer<Float>
    ) -> Bool {
        var norm: Float = 0
        for x in source { norm += x * x }
        guard norm.isFinite, metric == .l2 || norm > 0 else { return false }
        let scale = metric == .cosine ? 1 / norm.squareRoot() : 1
        for i in 0..<dimension { scratch[i] = source[i] * scale }
        return true
    }

    /// The layer of a new node: ⌊−ln(U) · m_L⌋, with U drawn from a generator seeded by the build
    /// seed and the slot, so the same build makes the same graph.
    func randomLevel(for id: UInt32, salt: UInt64) -> Int {
        var z = parameters.seed &+ (UInt64(id) &+ salt &* 0x9E37_79B9) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let uniform = (Double(z >> 11) + 1) / Double(1 << 53)
        return min(Int(-log(uniform) * levelMultiplier), 30)
    }

    // MARK: Search contexts

    func withContext<T>(_ body: (SearchContext) throws -> T) rethrows -> T {
        let context =
            contexts.withLock { $0.popLast() }
            ?? SearchContext(
                capacity: capacity, rowBytes: max(rowBytes, queryBytes), dimension: dimension, maxLinks: maxLinks0)
        defer { contexts.withLock { $0.append(context) } }
        return try body(context)
    }

    // MARK: Search

    /// Greedy descent through one upper layer (ef = 1), as in the paper's search for layers above 0.
    @inline(__always)
    func greedyClosest(
        _ query: UnsafeRawPointer, from start: UInt32, distance startDistance: Float, layer: Int,
        kernel: kk_code_fn
    ) -> (UInt32, Float) {
        var current = start
        var best = startDistance
        var changed = true
        let used = UInt32(slotsUsed.load(ordering: .acquiring))
        while changed {
            changed = false
            let list = linkList(current, layer)
            let n = min(Int(list[0].load(ordering: .acquiring)), maxLinks)
            for j in 1..<(n + 1) {
                let candidate = list[j].load(ordering: .acquiring)
                guard candidate < used else { continue }
                let d = distance(query, row(candidate), by: kernel)
                if d < best {
                    best = d
                    current = candidate
                    changed = true
                }
            }
        }
        return (current, best)
    }

    /// SEARCH-LAYER of the paper: best-first from `start`, keeping the `ef` closest in
    /// `context.results`. Nodes that `accept` rejects (deleted, filtered out) still guide the
    /// search but are never results.
    func searchLayer<Accept: NodeFilter>(
        _ context: SearchContext, _ query: UnsafeRawPointer, start: UInt32, ef: Int, layer: Int,
        accept: Accept, kernel: kk_code_fn
    ) {
        context.begin(capacity: capacity)
        let used = UInt32(slotsUsed.load(ordering: .acquiring))
        let startDistance = distance(query, row(start), by: kernel)
        var bound = Float.infinity
        if accept.accepts(start) {
            context.results.push(Candidate(distance: startDistance, id: start))
            bound = startDistance
        }
        context.frontier.push(Candidate(distance: startDistance, id: start))
        _ = context.visit(start)
        let limit = maxLinks(onLayer: layer)

        let pending = context.pending
        let ahead = Self.prefetchAhead
        while !context.frontier.isEmpty {
            let nearest = context.frontier.top
            if nearest.distance > bound && context.results.count >= ef { break }
            context.frontier.pop()
            if !context.frontier.isEmpty {
                // The next node to expand: start fetching its link list now.
                kk_prefetch_bytes(linkList(context.frontier.top.id, layer), 1)
            }
            // Gather the unvisited neighbours and prefetch their vectors, so the distance loop
            // below has many memory loads in flight instead of one miss at a time.
            let list = linkList(nearest.id, layer)
            let n = min(Int(list[0].load(ordering: .acquiring)), limit)
            var gathered = 0
            for j in 1..<(n + 1) {
                let neighbor = list[j].load(ordering: .acquiring)
                guard neighbor < used, context.visit(neighbor) else { continue }
                kk_prefetch_bytes(row(neighbor), prefetchBytes)
                pending[gathered] = neighbor
                gathered += 1
            }
            for j in 0..<min(ahead, gathered) { prefetchTail(of: pending[j]) }
            for j in 0..<gathered {
                let neighbor = pending[j]
                if j + ahead < gathered { prefetchTail(of: pending[j + ahead]) }
                let d = distance(query, row(neighbor), by: kernel)
                guard context.results.count < ef || d < bound else { continue }
                context.frontier.push(Candidate(distance: d, id: neighbor))
                if accept.accepts(neighbor) {
                    context.results.push(Candidate(distance: d, id: neighbor))
                    if context.results.count > ef { context.results.pop() }
                    bound = context.results.top.distance
                }
            }
        }
    }

    /// The paper's descent from the entry point (`entry`'s packed value) through the upper layers,
    /// greedily: the node layer 0's search starts from.
    private func descend(_ query: UnsafeRawPointer, from packed: UInt64) -> UInt32 {
        var current = UInt32(truncatingIfNeeded: packed)
        var currentDistance = distance(query, row(current), by: queryKernel)
        for layer in Swift.stride(from: Int(packed >> 32) - 1, to: 0, by: -1) {
            (current, currentDistance) = greedyClosest(
                query, from: current, distance: currentDistance, layer: layer, kernel: queryKernel)
        }
        return current
    }

    /// The `k` nearest live vectors to `query`, nearest first. `ef` is the candidate-list size
    /// (ef in the paper; at least k is used). `excluding` is a label never returned (a stored
    /// item's query leaves out the item itself), and the walk starts at its node. With `filter`,
    /// only labels it accepts are returned, and if the graph walk finds fewer than k of them the
    /// search widens, then falls back to an exact scan, so k results come back whenever k exist.
    /// With `among`, only those labels are considered, each compared with the query and no graph
    /// walked: for a filter so selective (a small folder of a large collection) that a walk would
    /// widen across most of the graph to find them (`HNSWIndex.scanLimit`).
    ///
    /// With compact codes and `exact`, the walk's `rerank` best candidates (default: the
    /// encoding's `rerankDepth`; at least k, at most ef) are re-ranked by their exact vectors and
    /// the k best returned with exact distances; without `exact`, distances are the codes'
    /// approximations.
    public func search(
        _ query: UnsafeBufferPointer<Float>, k: Int, ef: Int = 64, excluding: UInt64? = nil,
        filter: ((UInt64) -> Bool)? = nil, among: [UInt64]? = nil, exact: (any ExactVectors)? = nil,
        rerank: Int? = nil
    ) throws(IndexError) -> [Neighbor] {
        guard query.count == dimension else { throw .dimensionMismatch(expected: dimension, got: query.count) }
        guard k >= 1 else {
            throw .invalidParameter(name: "k", value: "\(k)", requirement: "ask for at least one neighbour")
        }
        let reranking = encoding != .float32 ? exact : nil
        storage.lockShared()
        defer { storage.unlock() }
        // The excluded label's slot, found once, so the walk compares slot numbers; a closure that
        // looked up each accepted node's label took 2.7 % of a SIMILAR's samples (RESULTS.md).
        let excludedSlot = excluding.flatMap { label in book.withLock { $0.slotByLabel[label] } } ?? UInt32.max
        return withContext { context in
            guard prepareQuery(query, into: context.query, scratch: context.queryFloats) else { return [] }
            let packed = entry.load(ordering: .acquiring)
            guard packed != 0 else { return [] }
            // A stored item's query starts at its own node, which is where its neighbours are: no
            // descent through the upper layers, and no chance of it ending in the wrong region.
            let current =
                excludedSlot < UInt32(slotsUsed.load(ordering: .acquiring))
                ? excludedSlot : descend(context.query, from: packed)
            // Re-ranking keeps the candidates it will re-read; otherwise the k best.
            let keep = reranking == nil ? k : self.rerankDepth(k: k, ef: ef, rerank: rerank)
            let found: [Neighbor]
            if let among {
                let slots = book.withLock { $0.slotByLabel.values(of: among) }.compactMap { $0 }
                found = exactScan(
                    context.query, k: keep, over: slots,
                    accept: { $0 != excludedSlot && self.isLive($0) && (filter?(self.labels[Int($0)]) ?? true) })
            } else if let filter {
                let accept = Predicate { $0 != excludedSlot && self.isLive($0) && filter(self.labels[Int($0)]) }
                var width = max(ef, k)
                while true {
                    searchLayer(
                        context, context.query, start: current, ef: width, layer: 0, accept: accept, kernel: queryKernel
                    )
                    if context.results.count >= k || width >= slotsUsed.load(ordering: .relaxed) { break }
                    width *= 4
                }
                found =
                    context.results.count < k
                    ? exactScan(
                        context.query, k: keep, over: 0..<UInt32(slotsUsed.load(ordering: .acquiring)),
                        accept: accept.body)
                    : drain(context, keep: keep)
            } else {
                let accept = LiveNodes(index: self, except: excludedSlot)
                searchLayer(
                    context, context.query, start: current, ef: max(ef, k), layer: 0, accept: accept,
                    kernel: queryKernel)
                if current == excludedSlot, context.results.count < k, count > context.results.count + 1 {
                    // Its node reaches too few (linked moments ago, or its neighbours deleted):
                    // the walk from the entry point, as for any other query.
                    searchLayer(
                        context, context.query, start: descend(context.query, from: packed), ef: max(ef, k), layer: 0,
                        accept: accept, kernel: queryKernel)
                }
                found = drain(context, keep: keep)
            }
            guard let reranking else { return found }
            return Array(self.rerank(found, query: UnsafeBufferPointer(context.queryFloats), by: reranking).prefix(k))
        }
    }

    public func search(
        _ query: [Float], k: Int, ef: Int = 64, excluding: UInt64? = nil, filter: ((UInt64) -> Bool)? = nil,
        among: [UInt64]? = nil, exact: (any ExactVectors)? = nil, rerank: Int? = nil
    ) throws(IndexError) -> [Neighbor] {
        try query.withUnsafeBufferPointer { (buffer) throws(IndexError) in
            try search(
                buffer, k: k, ef: ef, excluding: excluding, filter: filter, among: among, exact: exact, rerank: rerank)
        }
    }

    /// `candidates` (a search's answer without `exact`: the codes' approximate distances) with
    /// exact distances from `exact`, nearest first; one it lacks keeps its distance. What a caller
    /// that re-ranks only some of a search's candidates exactly (the fused SIMILAR) uses.
    public func exactDistances(
        _ candidates: [Neighbor], to query: [Float], by exact: any ExactVectors
    ) throws(IndexError) -> [Neighbor] {
        guard query.count == dimension else { throw .dimensionMismatch(expected: dimension, got: query.count) }
        var unit = query
        guard (unit.withUnsafeMutableBufferPointer { normalize(UnsafeBufferPointer($0), into: $0) }) else {
            return candidates
        }
        return unit.withUnsafeBufferPointer { rerank(candidates, query: $0, by: exact) }
    }

    /// The distance from `query` to each of `labels`' rows as a search measures it (the codes'
    /// approximation; exact for float32 rows); nil for a label not in the index. A zero or
    /// non-finite query has none.
    public func distances(from query: [Float], to labels: [UInt64]) throws(IndexError) -> [Float?] {
        guard query.count == dimension else { throw .dimensionMismatch(expected: dimension, got: query.count) }
        storage.lockShared()
        defer { storage.unlock() }
        let slots = book.withLock { $0.slotByLabel.values(of: labels) }
        return query.withUnsafeBufferPointer { query in
            withContext { context in
                guard prepareQuery(query, into: context.query, scratch: context.queryFloats) else {
                    return slots.map { _ in nil }
                }
                return slots.map { slot in slot.map { distance(context.query, row($0), by: queryKernel) } }
            }
        }
    }

    /// The most labels a search compares one by one (`among`) rather than walking the graph
    /// with a filter: 4,096 distances are a bounded cost, where a walk for a rare label set
    /// widens across the graph (400 ms at 100k items for a folder with none in it, RESULTS.md).
    /// Not tuned: where the two cost the same was not measured.
    public static let scanLimit = 4096

    /// How many of the walk's candidates a search with exact vectors re-ranks: `rerank`, or the
    /// encoding's depth, at least k and at most the candidate list (ef, at least k).
    public func rerankDepth(k: Int, ef: Int, rerank: Int? = nil) -> Int {
        min(max(ef, k), max(rerank ?? encoding.rerankDepth(k: k), k))
    }

    /// The `keep` best of a layer search's results, nearest first.
    private func drain(_ context: SearchContext, keep: Int) -> [Neighbor] {
        while context.results.count > keep { context.results.pop() }
        return context.results.drainAscending().map { Neighbor(label: labels[Int($0.id)], distance: $0.distance) }
    }

    /// `candidates` with their exact distances to `query` (normalised for cosine), nearest first.
    /// A candidate whose vector `exact` lacks keeps its approximate distance.
    func rerank(
        _ candidates: [Neighbor], query: UnsafeBufferPointer<Float>, by exact: any ExactVectors
    ) -> [Neighbor] {
        var out = candidates
        exact.forEachVector(candidates.map(\.label)) { i, stored in
            guard let stored, stored.count == dimension else { return }
            if metric == .l2 {
                out[i].distance = floatKernel(query.baseAddress!, stored.baseAddress!, dimension)
                return
            }
            let norm = floatKernel(stored.baseAddress!, stored.baseAddress!, dimension).squareRoot()
            guard norm > 0 else { return }
            out[i].distance = 1 - floatKernel(query.baseAddress!, stored.baseAddress!, dimension) / norm
        }
        out.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.label < $1.label) }
        return out
    }

    /// Which nodes a layer search may return. A protocol rather than a closure so the common cases
    /// are specialised and inlined into the search loop.
    protocol NodeFilter {
        func accepts(_ id: UInt32) -> Bool
    }

    /// Every node: linking during construction considers deleted nodes too, as hnswlib does.
    struct AllNodes: NodeFilter {
        @inline(__always) func accepts(_ id: UInt32) -> Bool { true }
    }

    /// Live nodes but one slot (`UInt32.max`: none), the query's own item.
    struct LiveNodes: NodeFilter {
        unowned(unsafe) let index: HNSWIndex
        var except = UInt32.max
        @inline(__always) func accepts(_ id: UInt32) -> Bool { id != except && index.isLive(id) }
    }

    struct Predicate: NodeFilter {
        let body: (UInt32) -> Bool
        init(_ body: @escaping (UInt32) -> Bool) { self.body = body }
        @inline(__always) func accepts(_ id: UInt32) -> Bool { body(id) }
    }

    /// Every accepted node of `slots` compared with the query: the exact answer (up to the rows'
    /// codes), for filters too selective for the graph walk.
    func exactScan<Slots: Sequence<UInt32>>(
        _ query: UnsafeRawPointer, k: Int, over slots: Slots, accept: (UInt32) -> Bool
    ) -> [Neighbor] {
        // Called with a search's query (`prepareQuery`'s form).
        var best = CandidateHeap(maxOnTop: true, capacity: k + 1)
        defer { best.free() }
        for id in slots where accept(id) {
            let d = distance(query, row(id), by: queryKernel)
            if best.count < k {
                best.push(Candidate(distance: d, id: id))
            } else if d < best.top.distance {
                best.pop()
                best.push(Candidate(distance: d, id: id))
            }
        }
        return best.drainAscending().map { Neighbor(label: labels[Int($0.id)], distance: $0.distance) }
    }
}

extension HNSWIndex {
    /// Every live label, in no particular order.
    public func liveLabels() -> [UInt64] { book.withLock { $0.slotByLabel.labels } }
}

/// A float32 index holds each vector as inserted (scaled to unit length under cosine), so it can
/// answer for them without a read from the store: the fused ranking's style terms.
extension HNSWIndex: ExactVectors {
    /// Calls `body` with `label`'s row (`dimension` floats); nil when the label is absent or the
    /// rows are compact codes. A row is never written once its node is published (an update takes
    /// a new slot), and the storage lock keeps it from moving while `body` reads it.
    public func withVector<R>(_ label: UInt64, _ body: (UnsafeBufferPointer<Float>) -> R) -> R? {
        guard encoding == .float32 else { return nil }
        storage.lockShared()
        defer { storage.unlock() }
        guard let id = book.withLock({ $0.slotByLabel[label] }) else { return nil }
        return body(UnsafeBufferPointer(start: row(id).assumingMemoryBound(to: Float.self), count: dimension))
    }

    /// `withVector` for many labels under one hold of each lock: the fused ranking asks for its
    /// 64 candidates' style rows at once, and a lock pair and a lookup a row were 4 % of a fused
    /// SIMILAR's samples (RESULTS.md, "The fused ranking's reads from memory").
    public func forEachVector(_ labels: [UInt64], _ body: (Int, UnsafeBufferPointer<Float>?) -> Void) {
        guard encoding == .float32 else {
            for i in labels.indices { body(i, nil) }
            return
        }
        storage.lockShared()
        defer { storage.unlock() }
        let slots = book.withLock { $0.slotByLabel.values(of: labels) }
        // Every row's lines are asked for before the first is read, so their misses overlap
        // rather than each body waiting on its own row.
        for slot in slots { if let slot { kk_prefetch_bytes(row(slot), rowBytes) } }
        for (i, slot) in slots.enumerated() {
            body(
                i,
                slot.map { UnsafeBufferPointer(start: row($0).assumingMemoryBound(to: Float.self), count: dimension) })
        }
    }
}
