import Dispatch
import Foundation
import KindredAnalysis
import KindredCore
import KindredFeatures
import KindredIndex
import KindredStore
import Logging
import Synchronization

/// One refit: the CNN vectors as they are now → PCA → a neighbour graph from the live HNSW index
/// → UMAP maps (2-D, 3-D) → HDBSCAN on a UMAP layout of `cluster_dims` dimensions, or k-means on
/// the PCA projection → metrics, exemplars, stable cluster ids → one catalog transaction that
/// makes the run current. Runs on the caller's thread; `RefitScheduler` gives it one of its own.
public final class Refitter: Sendable {
    let catalog: Catalog
    let store: VectorStore
    let indexes: LiveIndexes
    let settings: RefitSettings
    let threads: Int
    let logger: Logger
    /// The stage a run is in (nil between runs) and how far that stage is, 0…1, where it can tell
    /// (the neighbour searches, UMAP's epochs): one value, so STATUS never pairs a new stage with
    /// the last one's progress.
    private let position = Mutex<(stage: String?, done: Double)>((nil, 0))
    public var currentStage: String? { position.withLock { $0.stage } }
    /// Each stage's share of a run, from a 100k-item run's timings (Benchmarks/RESULTS.md): what
    /// turns the stage and its own progress into the run's.
    static let stageWeights: [(stage: String, weight: Double)] = [
        ("read", 0.01), ("pca", 0.04), ("neighbours", 0.34), ("sample_graph", 0.03), ("umap_maps", 0.37),
        ("cluster", 0.2),
        ("metrics", 0.005), ("record", 0.005),
    ]
    /// How far the running refit is, 0…1 (nil between runs), for STATUS `refit_progress`.
    public var currentProgress: Double? {
        let (current, done) = position.withLock { $0 }
        guard let current else { return nil }
        let name = current == "umap_cluster_layout" ? "cluster" : current
        guard let at = Self.stageWeights.firstIndex(where: { $0.stage == name }) else { return nil }
        let before = Self.stageWeights[..<at].reduce(0) { $0 + $1.weight }
        return min(1, before + Self.stageWeights[at].weight * done)
    }

    /// Set by `cancel()` when kindredd stops: the running refit ends at its next check (between
    /// stages, every 4,096 rows of the neighbour searches, every UMAP epoch) and is recorded as
    /// failed; a refit begun after it ends at once. A stop must not wait out a 1M-item refit, and
    /// a process must not exit under one (OpenBLAS's exit handler then waits forever on a thread
    /// a running sgemm holds).
    private let cancelled = Atomic<Bool>(false)

    /// Ends the running refit, and any later one, at its next check.
    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    private func checkCancelled(_ stage: String) throws(RefitError) {
        if isCancelled { throw .cancelled(stage: stage) }
    }

    /// Records how far the current stage is.
    private func advance(_ done: Double) { position.withLock { $0.done = max($0.done, min(1, done)) } }
    /// The order of a run's stages: each one's successor.
    static let stageAfter = [
        "read": "pca", "pca": "neighbours", "neighbours": "sample_graph", "sample_graph": "umap_maps",
        "umap_maps": "cluster",
        "umap_cluster_layout": "cluster", "cluster": "metrics", "metrics": "record",
    ]

    /// What the last run fitted, kept to place items indexed after it. It is saved with the run
    /// (`PlacementModel.save`) and read back after a restart, so items indexed then are placed too.
    private let model = Mutex<PlacementModel?>(nil)
    /// The run whose saved model could not be read, so it is not read again at every call.
    private let unreadable = Mutex<Int64?>(nil)

    /// Where the placement model is saved; nil keeps it in memory only.
    let paths: StatePaths?

    /// The classifier that names clusters by what their members show; nil names them by folder only.
    let head: ImageNetHead?

    public init(
        catalog: Catalog, store: VectorStore, indexes: LiveIndexes, settings: RefitSettings, threads: Int,
        paths: StatePaths? = nil, head: ImageNetHead? = nil, logger: Logger
    ) {
        self.paths = paths
        self.head = head
        self.catalog = catalog
        self.store = store
        self.indexes = indexes
        self.settings = settings
        self.threads = threads
        self.logger = logger
    }

    public struct Report: Sendable {
        public var run: Int64
        public var items: Int
        public var clusters: Int
        public var noiseFraction: Double
        public var silhouette: Double?
        public var born: Int
        public var vanished: Int
        public var seconds: Double
    }

    /// The parameters a run records (the catalog's `parameters`), as the algorithm used them.
    struct RunParameters: Encodable {
        var algorithm: String
        var variance: Double, maxComponents: Int, neighbors: Int, minDist: Float, seed: UInt64, matchJaccard: Double
        var clusterDims: Int?, minClusterSize: Int?, minSamples: Int?
        /// Above this many items UMAP fits a sample of this size and places the rest; nil: every item.
        var umapSample: Int?
        var k: String?

        init(_ settings: RefitSettings) {
            algorithm = settings.algorithm.name
            (variance, maxComponents, neighbors, minDist) = (
                settings.variance, settings.maxComponents, settings.neighbors, settings.minDist
            )
            (seed, matchJaccard) = (settings.seed, settings.matchJaccard)
            umapSample = settings.umapSample > 0 ? settings.umapSample : nil
            switch settings.algorithm {
            case .hdbscan(let minClusterSize, let minSamples, let dimensions):
                (self.minClusterSize, self.minSamples, clusterDims) = (minClusterSize, minSamples, dimensions)
            case .kmeans(let ks):
                k = "\(ks.lowerBound)..\(ks.upperBound)"
            }
        }
    }

    public func run() throws -> Report {
        let started = ContinuousClock.now
        let runID = try catalog.beginRun(
            algorithm: settings.algorithm.name, parameters: try Self.json(RunParameters(settings)))
        do {
            let report = try fit(runID, started: started)
            logger.notice(
                "refit done",
                metadata: [
                    "run": "\(runID)", "items": "\(report.items)", "clusters": "\(report.clusters)",
                    "noise": "\(report.noiseFraction)", "seconds": "\(report.seconds)",
                ])
            return report
        } catch {
            try? catalog.failRun(runID, error: "\(error)")
            logger.error("refit failed", metadata: ["run": "\(runID)", "error": "\(error)"])
            throw error
        }
    }

    /// The stages of one run, in order, each timed: read, PCA, the neighbour graph, the 2-D and
    /// 3-D maps, the clustering, its metrics, then stable ids and the one transaction that
    /// records the run.
    private func fit(_ runID: Int64, started: ContinuousClock.Instant) throws -> Report {
        var timings: [String: Double] = [:]
        var clock = ContinuousClock.now
        /// Records the stage that ended and names the one that begins (STATUS `refit_stage`).
        func lap(_ stage: String) throws(RefitError) {
            try checkCancelled(stage)
            timings[stage] = seconds(since: clock)
            clock = .now
            // A lap inside a stage (HDBSCAN's layout is the first 85 % of "cluster") keeps its progress.
            position.withLock {
                let next = Self.stageAfter[stage] ?? $0.stage
                $0 = (next, next == $0.stage ? $0.done : 0)
            }
        }
        try checkCancelled("start")
        position.withLock { $0 = ("read", 0) }
        defer { position.withLock { $0 = (nil, 0) } }
        // The vectors (5 GB at a million 1280-d items) are needed only for PCA and the neighbour
        // searches; they go when this closure returns, before UMAP's memory is taken.
        let (ids, pca, projected, graph) = try { () throws -> ([ItemID], PCA, Matrix, NeighborGraph) in
            let (ids, x) = try store.readMatrix(space: StandardSpaces.cnn.name)
            guard ids.count >= settings.minimumItems else {
                throw RefitError.tooFewItems(have: ids.count, need: settings.minimumItems)
            }
            try lap("read")
            let pca = try PCA.fit(
                x, options: PCA.Options(varianceTarget: settings.variance, maxComponents: settings.maxComponents))
            let projected = pca.transform(x)
            try lap("pca")
            let graph = try neighbourGraph(ids: ids, x: x)
            try lap("neighbours")
            return (ids, pca, projected, graph)
        }()
        let graphs = try layoutGraphs(graph, projected: projected)
        try lap("sample_graph")
        let (map2, map3) = (
            try layout(graphs, dimensions: 2, minDist: settings.minDist, span: 0...0.5),
            try layout(graphs, dimensions: 3, minDist: settings.minDist, span: 0.5...1)
        )
        try lap("umap_maps")
        let clustered = try cluster(graphs, projected: projected, pca: pca, lap: lap)
        try lap("cluster")
        let clusterLabels = Set(clustered.labels.filter { $0 >= 0 }).sorted()
        let scores =
            clusterLabels.count >= 2
            ? try ClusterMetrics.compute(clustered.space, labels: clustered.labels, seed: settings.seed) : nil
        try lap("metrics")
        let matching = try stableIDs(clustered.labels, ids: ids)
        let stable = { (label: Int32) -> Int in label < 0 ? -1 : matching.ids[Int(label)]! }
        var metrics = RunMetrics()
        metrics.kCandidates = clustered.kCandidates
        metrics.pcaComponents = pca.components.rows
        metrics.pcaExplained = pca.explained
        metrics.pcaScree = Array(pca.cumulativeVarianceRatio.prefix(256))
        metrics.varianceTarget = settings.variance
        if let scores {
            metrics.daviesBouldin = scores.daviesBouldin
            metrics.silhouetteSample = scores.sampleSize
            metrics.silhouetteByCluster = Dictionary(
                uniqueKeysWithValues: scores.silhouetteByCluster.map { (String(stable(Int32($0.key))), $0.value) })
            metrics.silhouetteKnife = Self.knife(scores.samples, stable: { stable(Int32($0)) })
        }
        if case .sampled(let sampled) = graphs { metrics.umapFitted = sampled.fitted.count }
        metrics.born = matching.born.map { matching.ids[$0]! }
        metrics.vanished = matching.vanished
        timings["total"] = seconds(since: started)
        let noise = try record(
            runID, ids: ids, clustered: clustered, maps: (map2.embedding, map3.embedding), graph: graph,
            matching: matching,
            scores: scores, metrics: metrics, timings: timings)
        let stableIDs = Dictionary(uniqueKeysWithValues: clusterLabels.map { ($0, stable($0)) })
        let fitted = PlacementModel(
            run: runID, ids: ids.map(\.rawValue), map2: map2, map3: map3, clustering: clustered.model,
            stable: stableIDs)
        model.withLock { $0 = fitted }
        if let paths {
            // The run is recorded already; without its saved model, items indexed after a restart
            // wait for the next run, so a failure here is logged, not fatal.
            do { try fitted.save(in: paths) } catch {
                logger.warning("placement model not saved", metadata: ["run": "\(runID)", "reason": "\(error)"])
            }
        }
        return Report(
            run: runID, items: ids.count, clusters: clusterLabels.count, noiseFraction: noise,
            silhouette: scores?.silhouette,
            born: matching.born.count, vanished: matching.vanished.count, seconds: seconds(since: started))
    }

    /// What UMAP lays out: every item's graph from the live index, or, above `umapSample` items,
    /// a sample's graph and the other items' neighbours among it.
    enum LayoutGraphs {
        case whole(NeighborGraph)
        case sampled(SampledNeighborGraphs)
    }

    /// The sample's graphs come from an index over the PCA projection (Euclidean there is the
    /// cosine of the unit vectors, less the variance PCA left out): a tenth of the dimensions of
    /// the live index's vectors, and the placed items' neighbours must be among the sample, which
    /// the live index cannot restrict its walk to without searching far wider.
    private func layoutGraphs(_ graph: NeighborGraph, projected: Matrix) throws -> LayoutGraphs {
        guard settings.umapSample > 0, graph.count > settings.umapSample else { return .whole(graph) }
        let sample = NeighborGraph.sampleRows(graph.count, count: settings.umapSample, seed: settings.seed)
        let graphs = try NeighborGraph.build(
            projected, fitting: sample, k: graph.k, metric: .l2, threads: threads, logger: logger)
        logger.info(
            "UMAP fitted on a sample", metadata: ["sample": "\(sample.count)", "placed": "\(graphs.placed.count)"])
        return .sampled(graphs)
    }

    /// A UMAP layout of the neighbour graph.
    /// `span`: the part of its stage this layout is, for the stage's progress.
    private func layout(
        _ graphs: LayoutGraphs, dimensions: Int, minDist: Float, span: ClosedRange<Double> = 0...1
    ) throws -> UMAP {
        var options = UMAP.Options()
        options.progress = { [self] done in
            advance(span.lowerBound + (span.upperBound - span.lowerBound) * done)
        }
        options.shouldStop = { [self] in isCancelled }
        options.neighbors = settings.neighbors
        options.minDist = minDist
        options.seed = settings.seed
        options.threads = threads
        options.dimensions = dimensions
        do {
            switch graphs {
            case .whole(let graph): return try UMAP.fit(graph: graph, options: options)
            case .sampled(let sampled): return try UMAP.fit(sampled: sampled, options: options)
            }
        } catch {
            if case .cancelled = error { throw RefitError.cancelled(stage: currentStage ?? "umap") }
            throw error
        }
    }

    /// What the clustering stage gives: a label per row (−1 noise), in the space it clustered.
    struct Clustered {
        var space: Matrix
        var labels: [Int32]
        var probabilities: [Float]?
        var outliers: [Float]?
        var model: PlacementModel.Clustering
        var kCandidates: [RunMetrics.KCandidate]?
    }

    private func cluster(
        _ graphs: LayoutGraphs, projected: Matrix, pca: PCA, lap: (String) throws(RefitError) -> Void
    ) throws
        -> Clustered
    {
        switch settings.algorithm {
        case .kmeans(let ks):
            var options = KMeans.Options()
            options.seed = settings.seed
            let selection = try KSelection.choose(projected, ks: ks, options: options)
            return Clustered(
                space: projected, labels: selection.best.labels,
                model: .kmeans(pca: pca, centroids: selection.best.centroids),
                kCandidates: selection.candidates.map {
                    RunMetrics.KCandidate(k: $0.k, silhouette: $0.silhouette, inertia: $0.inertia)
                })
        case .hdbscan(let minClusterSize, let minSamples, let dimensions):
            let layout = try layout(graphs, dimensions: dimensions, minDist: 0, span: 0...0.85)
            try lap("umap_cluster_layout")
            var options = HDBSCAN.Options()
            options.minClusterSize = minClusterSize
            options.minSamples = minSamples
            options.threads = threads
            let result = try HDBSCAN.fit(layout.embedding, options: options)
            return Clustered(
                space: layout.embedding, labels: result.labels, probabilities: result.probabilities,
                outliers: result.outlierScores,
                model: .hdbscan(layout: layout, model: result))
        }
    }

    /// This run's clusters matched to the current run's, so a cluster that persists keeps its id.
    private func stableIDs(_ labels: [Int32], ids: [ItemID]) throws -> ClusterMatching.Result {
        var members: [Int: Set<UInt64>] = [:]
        for (row, label) in labels.enumerated() where label >= 0 {
            members[Int(label), default: []].insert(ids[row].rawValue)
        }
        let current = try catalog.currentRun()
        let previous = try current.map { try catalog.memberships(run: $0.id) } ?? [:]
        return ClusterMatching.match(
            new: members, previous: previous, threshold: settings.matchJaccard,
            firstNewID: try catalog.largestClusterID() + 1)
    }

    /// Every item's placement and every cluster's facts, in the one catalog transaction that makes
    /// the run current. Returns the noise fraction.
    private func record(
        _ runID: Int64, ids: [ItemID], clustered: Clustered, maps: (Matrix, Matrix), graph: NeighborGraph,
        matching: ClusterMatching.Result, scores: ClusterMetrics?, metrics: RunMetrics, timings: [String: Double]
    ) throws -> Double {
        let labels = clustered.labels, (map2, map3) = maps
        let stable = { (label: Int32) -> Int in label < 0 ? -1 : matching.ids[Int(label)]! }
        let assignments = ids.indices.map { row in
            Assignment(
                item: ids[row], cluster: stable(labels[row]), probability: clustered.probabilities?[row],
                outlierScore: clustered.outliers?[row],
                map2: (map2.storage[row * 2], map2.storage[row * 2 + 1]),
                map3: (map3.storage[row * 3], map3.storage[row * 3 + 1], map3.storage[row * 3 + 2]),
                neighbours: Self.keptNeighbours(graph, row: row).map { ids[Int($0)] })
        }
        let born = Dictionary(
            uniqueKeysWithValues: try (catalog.currentRun().map { try catalog.clusters(run: $0.id) } ?? []).map {
                ($0.cluster, $0.bornRunID)
            })
        var rowsOf: [Int32: [Int]] = [:]
        for (row, label) in labels.enumerated() where label >= 0 { rowsOf[label, default: []].append(row) }
        let names = try clusterLabels(rowsOf, ids: ids)
        let facts = rowsOf.keys.sorted().map { label -> ClusterFacts in
            let rows = rowsOf[label]!
            let id = matching.ids[Int(label)]!
            return ClusterFacts(
                cluster: id, size: rows.count, exemplar: ids[exemplar(rows, in: clustered.space)],
                silhouette: scores?.silhouetteByCluster[Int(label)],
                bornRunID: matching.jaccard[Int(label)] == nil ? runID : born[id] ?? runID,
                matchedJaccard: matching.jaccard[Int(label)], label: names[label])
        }
        let noise = Double(labels.filter { $0 < 0 }.count) / Double(ids.count)
        try catalog.finishRun(
            runID,
            summary: RunSummary(
                itemCount: ids.count, clusterCount: facts.count, noiseFraction: noise,
                silhouette: scores?.silhouette, metrics: try metrics.json(), timings: try Self.json(timings)),
            assignments: assignments, clusters: facts, keep: settings.keepRuns)
        return noise
    }

    /// Each cluster's label (`ClusterLabeler`): its members' top folders, tallied from one pass
    /// over the catalog's paths, and the ImageNet classes of a sample of them (kept at extraction;
    /// the head on the stored vector for a member extracted before).
    private func clusterLabels(_ rowsOf: [Int32: [Int]], ids: [ItemID]) throws -> [Int32: String] {
        let labeler = ClusterLabeler(head: head, roots: try catalog.rootSet())
        var clusterOf: [ItemID: Int32] = [:]
        clusterOf.reserveCapacity(ids.count)
        for (label, rows) in rowsOf { for row in rows { clusterOf[ids[row]] = label } }
        var folders: [Int32: ClusterLabeler.FolderCounts] = [:]
        try catalog.forEachIndexedPath { id, path in
            guard let label = clusterOf[id] else { return }
            folders[label, default: ClusterLabeler.FolderCounts()].add(labeler.topFolder(of: path))
        }
        var labels: [Int32: String] = [:]
        for (label, rows) in rowsOf {
            var classes: [Int] = []
            if head != nil {
                let sample = ClusterLabeler.sample(rows).map { ids[$0] }
                var vectors: [Float] = []
                var count = 0
                for (id, kept) in zip(sample, try catalog.imagenetClasses(sample)) {
                    if let kept {
                        classes.append(kept)
                    } else if let v = try store.vector(id, space: StandardSpaces.cnn.name) {
                        vectors += v
                        count += 1
                    }
                }
                classes += labeler.classes(ofStored: vectors, count: count)
            }
            labels[label] = ClusterLabeler.label(
                folder: folders[label]?.dominant, classes: labeler.classes(of: classes))
        }
        return labels
    }

    /// Each item's neighbours from the live CNN index (cosine, the point itself left out), as
    /// UMAP's graph: the daemon already answers these queries, so no second index is built.
    private func neighbourGraph(ids: [ItemID], x: Matrix) throws -> NeighborGraph {
        let k = settings.neighbors - 1
        let rowOf = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1.rawValue, Int32($0)) })
        var indices = [Int32](repeating: 0, count: ids.count * k),
            distances = [Float](repeating: 0, count: ids.count * k)
        let index = indexes.cnn
        let failure = Mutex<String?>(nil)
        indices.withUnsafeMutableBufferPointer { indexBuffer in
            distances.withUnsafeMutableBufferPointer { distanceBuffer in
                let (ib, db) = (UInt(bitPattern: indexBuffer.baseAddress), UInt(bitPattern: distanceBuffer.baseAddress))
                performConcurrently(iterations: threads) { worker in
                    for row in stride(from: worker, to: ids.count, by: threads) {
                        if row % 4096 < threads {
                            if isCancelled { break }
                            if worker == 0 { advance(Double(row) / Double(ids.count)) }
                        }
                        do {
                            // A few spare in case items were removed since the vectors were read.
                            // The item itself is left out, and the walk starts at its node.
                            let found = try index.search(
                                x.row(row), k: k + 3, ef: max(64, 4 * k), excluding: ids[row].rawValue
                            ).compactMap { neighbour in
                                rowOf[neighbour.label].map { ($0, max(0, neighbour.distance)) }
                            }
                            guard let last = found.last else { throw RefitError.isolated(ids[row]) }
                            for j in 0..<k {
                                let (neighbour, distance) = j < found.count ? found[j] : last
                                UnsafeMutablePointer<Int32>(bitPattern: ib)![row * k + j] = neighbour
                                UnsafeMutablePointer<Float>(bitPattern: db)![row * k + j] = distance
                            }
                        } catch {
                            failure.withLock { $0 = "\(error)" }
                        }
                    }
                }
            }
        }
        if let reason = failure.withLock({ $0 }) { throw RefitError.neighbours(reason) }
        try checkCancelled("neighbours")
        return NeighborGraph(count: ids.count, k: k, indices: indices, distances: distances)
    }

    /// Places items indexed since the last run (`PlacementModel.place`), with their neighbours
    /// among the run's items from the live index. Returns how many were placed.
    public func placeNewItems(limit: Int = 2000) throws -> Int {
        guard let model = try currentModel() else { return 0 }
        let items = try catalog.unplacedItems(run: model.run, limit: limit)
        guard !items.isEmpty else { return 0 }
        var vectors: [[Float]] = []
        var placed: [ItemID] = []
        for item in items {
            guard let vector = try store.vector(item, space: StandardSpaces.cnn.name) else { continue }
            vectors.append(vector)
            placed.append(item)
        }
        guard !placed.isEmpty else { return 0 }
        // Neighbours among the run's items, from the live index.
        let k = settings.neighbors - 1
        var indices: [Int32] = [], distances: [Float] = [], neighbours: [[ItemID]] = []
        for (item, vector) in zip(placed, vectors) {
            let hits = try indexes.cnn.search(vector, k: k + 8, ef: max(64, 4 * k))
            neighbours.append(
                Array(hits.lazy.map { ItemID($0.label) }.filter { $0 != item }.prefix(Self.keptNeighbourCount)))
            let found = hits.compactMap { n in model.rowOf[n.label].map { ($0, max(0, n.distance)) } }
            guard let last = found.last else { throw RefitError.neighbours("no fitted item near a new one") }
            for j in 0..<k {
                let (row, distance) = j < found.count ? found[j] : last; indices.append(row); distances.append(distance)
            }
        }
        let graph = NeighborGraph(count: placed.count, k: k, indices: indices, distances: distances)
        let placements = model.place(
            Matrix(rows: vectors.count, columns: vectors[0].count, storage: vectors.flatMap { $0 }), neighbours: graph)
        try catalog.addAssignments(
            run: model.run,
            placements.indices.map { i in
                Assignment(
                    item: placed[i], cluster: placements[i].cluster, probability: placements[i].probability,
                    outlierScore: nil, map2: placements[i].map2, map3: placements[i].map3, neighbours: neighbours[i])
            })
        logger.debug("placed items between refits", metadata: ["run": "\(model.run)", "items": "\(placed.count)"])
        return placed.count
    }

    /// The model of the catalog's current run: the one in memory, or the one saved with the run
    /// (after a restart). Nil when there is no run, or its model is missing or unreadable (said
    /// once in the log; items then wait for the next run).
    func currentModel() throws -> PlacementModel? {
        guard let run = try catalog.currentRun()?.id else { return nil }
        if let held = model.withLock({ $0 }), held.run == run { return held }
        guard let paths, unreadable.withLock({ $0 }) != run else { return nil }
        do {
            guard let saved = try PlacementModel.load(from: paths, run: run) else { return nil }
            model.withLock { $0 = saved }
            logger.info("placement model read back", metadata: ["run": "\(run)", "items": "\(saved.ids.count)"])
            return saved
        } catch {
            unreadable.withLock { $0 = run }
            logger.warning("placement model unreadable", metadata: ["run": "\(run)", "reason": "\(error)"])
            return nil
        }
    }

    /// How many neighbours each assignment keeps for the map's click-through list.
    static let keptNeighbourCount = 8

    /// The first distinct neighbours of a graph row (the graph repeats its last neighbour when a
    /// search found fewer than k).
    static func keptNeighbours(_ graph: NeighborGraph, row: Int) -> [Int32] {
        var kept: [Int32] = []
        for j in 0..<graph.k where kept.count < keptNeighbourCount {
            let neighbour = graph.indices[row * graph.k + j]
            if !kept.contains(neighbour) { kept.append(neighbour) }
        }
        return kept
    }

    /// The knife plot's data: each cluster's silhouettes, sorted high to low, cut to at most 200
    /// evenly spaced quantiles so a large run's metrics stay small; with the cluster's sample size.
    static func knife(
        _ samples: [(row: Int, label: Int, value: Double)], stable: (Int) -> Int
    ) -> [String: RunMetrics.Knife] {
        var byCluster: [Int: [Double]] = [:]
        for sample in samples { byCluster[sample.label, default: []].append(sample.value) }
        var result: [String: RunMetrics.Knife] = [:]
        for (label, values) in byCluster {
            let sorted = values.sorted(by: >)
            let count = min(200, sorted.count)
            let quantiles = (0..<count).map { i in sorted[count == 1 ? 0 : i * (sorted.count - 1) / (count - 1)] }
            result[String(stable(label))] = RunMetrics.Knife(
                n: sorted.count, values: quantiles.map { ($0 * 1000).rounded() / 1000 })
        }
        return result
    }

    /// The member nearest the members' mean.
    private func exemplar(_ rows: [Int], in space: Matrix) -> Int {
        let d = space.columns
        var mean = [Float](repeating: 0, count: d)
        for row in rows { for c in 0..<d { mean[c] += space.storage[row * d + c] / Float(rows.count) } }
        return rows.min { a, b in
            (0..<d).reduce(Float(0)) {
                $0 + (space.storage[a * d + $1] - mean[$1]) * (space.storage[a * d + $1] - mean[$1])
            }
                < (0..<d).reduce(Float(0)) {
                    $0 + (space.storage[b * d + $1] - mean[$1]) * (space.storage[b * d + $1] - mean[$1])
                }
        }!
    }
}

extension Refitter {
    /// Run parameters and timings as JSON; an encoding failure fails the run rather than
    /// recording an empty object.
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

public enum RefitError: Error, CustomStringConvertible {
    case tooFewItems(have: Int, need: Int)
    case isolated(ItemID)
    case neighbours(String)
    /// A saved placement model that cannot be used: its directory and why.
    case placementModel(String, String)
    /// kindredd is stopping (`Refitter.cancel`); the stage it was in.
    case cancelled(stage: String)

    public var description: String {
        switch self {
        case .tooFewItems(let have, let need):
            "a refit needs at least \(need) indexed items (refit.neighbors + 2, and refit.min_cluster_size × 2 for HDBSCAN), the collection has \(have)"
        case .isolated(let id): "item \(id) has no neighbours in the index"
        case .neighbours(let reason): "the neighbour graph failed: \(reason)"
        case .placementModel(let path, let reason): "the placement model in \(path) is unusable: \(reason)"
        case .cancelled(let stage): "cancelled at \(stage): kindredd is stopping"
        }
    }
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let t = ContinuousClock.now - start
    return (t.seconds * 1000).rounded() / 1000
}
