import Foundation
import KindredAnalysis
import KindredCore
import Logging

/// What a refit fitted, enough to place items indexed after it without refitting: the run's items
/// in fit order, its UMAP maps, its clustering (HDBSCAN on a UMAP layout, or k-means in PCA
/// space) and the map from its labels to stable cluster ids.
///
/// Saved with each run in `$STATE/placement-<run>/` (Schema/placement.md): a `meta.json` of
/// scalars and one `.npy` a matrix, written to a temporary directory, synced and renamed, older
/// runs' directories then removed. It is derived data: a missing or damaged one only means items
/// wait for the next refit to be placed, so a load that fails says why and throws.
///
/// A saved model is read from a file kindredd did not necessarily write intact, so `load` is the
/// one place that checks it against everything `place` relies on (the maps' dimensions, the
/// projection's input dimension, the tree's shape, the curve's parameters): a model that loads
/// places any vectors of the cnn space without trapping.
public struct PlacementModel: Sendable {
    public let run: Int64
    public let ids: [UInt64]
    let rowOf: [UInt64: Int32]
    let map2: UMAP, map3: UMAP
    let clustering: Clustering
    /// Run labels → stable cluster ids.
    let stable: [Int32: Int]
    /// The stable ids of the run's clusters: `place` puts an item in one of them, or in none (-1).
    public var stableClusterIDs: [Int] { Array(stable.values) }

    public enum Clustering: Sendable {
        case hdbscan(layout: UMAP, model: HDBSCAN)
        case kmeans(pca: PCA, centroids: Matrix)
    }

    /// Where `place` puts an item: its stable cluster (-1: noise or unmatched), HDBSCAN's
    /// membership strength (nil for k-means) and its 2-D and 3-D map coordinates.
    public struct Placement: Sendable {
        public let cluster: Int
        public let probability: Float?
        public let map2: (Float, Float)
        public let map3: (Float, Float, Float)
    }

    public init(
        run: Int64, ids: [UInt64], map2: UMAP, map3: UMAP, clustering: Clustering, stable: [Int32: Int]
    ) {
        self.run = run
        self.ids = ids
        rowOf = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, Int32($0)) })
        self.map2 = map2
        self.map3 = map3
        self.clustering = clustering
        self.stable = stable
    }

    static let formatVersion = 1
    /// The dimensions of the two maps the catalog keeps for each item.
    static let mapDimensions = ["map2": 2, "map3": 3]
    /// The space whose vectors the model places (a k-means model projects them with its PCA).
    static let space = Space.cnn

    static func directory(in paths: StatePaths, run: Int64) -> URL {
        paths.root.appendingPathComponent("placement-\(run)")
    }

    /// The scalars, as JSON.
    struct Meta: Codable {
        var version: Int
        var run: Int64
        var algorithm: String
        var maps: [String: MapMeta]
        var selectedClusters: [Int]?
        var minSamples: Int?
        /// [run label, stable id] pairs.
        var stable: [[Int]]
    }

    struct MapMeta: Codable {
        var a: Float, b: Float, epochs: Int, initialisation: String
        var neighbors: Int, minDist: Float, spread: Float, dimensions: Int, learningRate: Float
        var negativeSampleRate: Int, repulsionStrength: Float, seed: UInt64

        init(_ map: UMAP) {
            (a, b, epochs, initialisation) = (map.a, map.b, map.epochs, map.initialisation)
            let o = map.options
            (neighbors, minDist, spread, dimensions, learningRate) =
                (o.neighbors, o.minDist, o.spread, o.dimensions, o.learningRate)
            (negativeSampleRate, repulsionStrength, seed) = (o.negativeSampleRate, o.repulsionStrength, o.seed)
        }

        func restore(_ embedding: Matrix) throws -> UMAP {
            var o = UMAP.Options()
            (o.neighbors, o.minDist, o.spread, o.dimensions, o.learningRate) =
                (neighbors, minDist, spread, dimensions, learningRate)
            (o.negativeSampleRate, o.repulsionStrength, o.seed) = (negativeSampleRate, repulsionStrength, seed)
            return try UMAP(
                restoring: embedding, a: a, b: b, epochs: epochs, initialisation: initialisation, options: o)
        }
    }

    /// Writes the model for its run, then removes every other run's.
    public func save(in paths: StatePaths) throws {
        let final = Self.directory(in: paths, run: run)
        let temporary = paths.root.appendingPathComponent("placement-\(run).tmp-\(getpid())")
        let files = FileManager.default
        try? files.removeItem(at: temporary)
        try files.createDirectory(at: temporary, withIntermediateDirectories: false)
        func file(_ name: String) -> URL { temporary.appendingPathComponent(name) }
        try Npy.write(NpyArray(shape: [ids.count], values: ids.map { Int64(bitPattern: $0) }), to: file("ids.npy"))
        try Npy.write(map2.embedding, to: file("map2.npy"))
        try Npy.write(map3.embedding, to: file("map3.npy"))
        var meta = Meta(
            version: Self.formatVersion, run: run, algorithm: "", maps: ["map2": MapMeta(map2), "map3": MapMeta(map3)],
            stable: stable.sorted { $0.key < $1.key }.map { [Int($0.key), $0.value] })
        switch clustering {
        case .hdbscan(let layout, let model):
            meta.algorithm = "hdbscan"
            meta.maps["layout"] = MapMeta(layout)
            meta.selectedClusters = model.selectedClusters
            meta.minSamples = model.minSamples
            try Npy.write(layout.embedding, to: file("layout.npy"))
            try Npy.write(
                NpyArray(shape: [model.coreDistances.count], values: model.coreDistances), to: file("core.npy"))
            let tree = model.condensedTree
            try Npy.write(
                NpyArray(
                    shape: [tree.count, 3],
                    values: tree.flatMap { [Int64($0.parent), Int64($0.child), Int64($0.size)] }),
                to: file("tree.npy"))
            try Npy.write(NpyArray(shape: [tree.count], values: tree.map(\.lambda)), to: file("lambda.npy"))
        case .kmeans(let pca, let centroids):
            meta.algorithm = "kmeans"
            try Npy.write(NpyArray(shape: [pca.mean.count], values: pca.mean), to: file("pca-mean.npy"))
            try Npy.write(pca.components, to: file("pca-components.npy"))
            try Npy.write(centroids, to: file("centroids.npy"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try encoder.encode(meta).write(to: file("meta.json"))
        for name in try files.contentsOfDirectory(atPath: temporary.path) { try FileIO.sync(file(name).path) }
        try? files.removeItem(at: final)
        try files.moveItem(at: temporary, to: final)
        try FileIO.sync(paths.root.path)
        for name in try files.contentsOfDirectory(atPath: paths.root.path)
        where name.hasPrefix("placement-") && name != final.lastPathComponent {
            try? files.removeItem(at: paths.root.appendingPathComponent(name))
        }
    }

    /// The saved model of `run`, every part checked against the others and against what `place`
    /// relies on; nil when there is none.
    public static func load(from paths: StatePaths, run: Int64) throws -> PlacementModel? {
        let directory = directory(in: paths, run: run)
        guard FileManager.default.fileExists(atPath: directory.path) else { return nil }
        func file(_ name: String) -> URL { directory.appendingPathComponent(name) }
        func bad(_ reason: String) -> RefitError { .placementModel(directory.path, reason) }
        let meta = try JSONDecoder().decode(
            Meta.self, from: Data(FileIO.readWhole(file("meta.json").path, limit: 64 << 20)))
        guard meta.version == formatVersion, meta.run == run else {
            throw bad("meta.json is version \(meta.version) for run \(meta.run); expected \(formatVersion), run \(run)")
        }
        let ids = try Npy.read(file("ids.npy"), as: Int64.self).values
        guard !ids.isEmpty, ids.allSatisfy({ $0 > 0 }), Set(ids).count == ids.count else {
            throw bad("ids.npy must hold distinct positive item ids")
        }
        func map(_ name: String) throws -> UMAP {
            guard let mapMeta = meta.maps[name] else { throw bad("meta.json has no \(name)") }
            if let dimensions = mapDimensions[name], mapMeta.dimensions != dimensions {
                throw bad("\(name) has \(mapMeta.dimensions) dimensions, not \(dimensions)")
            }
            let embedding = try Npy.readMatrix(file("\(name).npy"))
            guard embedding.rows == ids.count else {
                throw bad("\(name).npy has \(embedding.rows) rows for \(ids.count) items")
            }
            return try mapMeta.restore(embedding)
        }
        let clustering: Clustering
        var labels = 0
        switch meta.algorithm {
        case "hdbscan":
            guard let selected = meta.selectedClusters, let minSamples = meta.minSamples else {
                throw bad("an hdbscan model needs selectedClusters and minSamples")
            }
            let tree = try Npy.read(file("tree.npy"), as: Int64.self)
            let lambdas = try Npy.read(file("lambda.npy"), as: Double.self).values
            guard tree.shape.count == 2, tree.shape[1] == 3, tree.shape[0] == lambdas.count else {
                throw bad("tree.npy and lambda.npy disagree on the number of edges")
            }
            let edges = lambdas.indices.map { i in
                HDBSCAN.CondensedEdge(
                    parent: Int(tree.values[3 * i]), child: Int(tree.values[3 * i + 1]), lambda: lambdas[i],
                    size: Int(tree.values[3 * i + 2]))
            }
            let model = try HDBSCAN(
                restoring: edges, selectedClusters: selected,
                coreDistances: try Npy.read(file("core.npy"), as: Float.self).values, minSamples: minSamples,
                points: ids.count)
            clustering = .hdbscan(layout: try map("layout"), model: model)
            labels = selected.count
        case "kmeans":
            let pca = try PCA(
                restoring: try Npy.read(file("pca-mean.npy"), as: Float.self).values,
                components: try Npy.readMatrix(file("pca-components.npy")))
            guard pca.mean.count == space.dimension else {
                throw bad("the PCA projects \(pca.mean.count) columns; the \(space.name) space has \(space.dimension)")
            }
            let centroids = try Npy.readMatrix(file("centroids.npy"))
            guard centroids.rows > 0, centroids.columns == pca.components.rows, centroids.storage.allSatisfy(\.isFinite)
            else { throw bad("centroids.npy does not match the PCA's \(pca.components.rows) components") }
            clustering = .kmeans(pca: pca, centroids: centroids)
            labels = centroids.rows
        default:
            throw bad("unknown algorithm \(meta.algorithm)")
        }
        var stable: [Int32: Int] = [:]
        for pair in meta.stable {
            guard pair.count == 2, (0..<labels).contains(pair[0]), pair[1] >= 0 else {
                throw bad("a stable-id pair \(pair) is out of range")
            }
            stable[Int32(pair[0])] = pair[1]
        }
        return PlacementModel(
            run: run, ids: ids.map { UInt64($0) }, map2: try map("map2"), map3: try map("map3"),
            clustering: clustering, stable: stable)
    }

    /// Places items the run did not fit: map coordinates through UMAP's `transform`, a cluster
    /// through HDBSCAN's `approximatePredict` on the clustering layout (or the nearest k-means
    /// centroid in the run's PCA space). `vectors` are the items' vectors in `space`, one a row;
    /// `graph` their neighbours among the run's items (rows of `ids`), one row of it an item.
    public func place(_ vectors: Matrix, neighbours graph: NeighborGraph) -> [Placement] {
        precondition(graph.count == vectors.rows && vectors.columns == Self.space.dimension)
        precondition(graph.indices.allSatisfy { $0 >= 0 && Int($0) < ids.count }, "neighbours are rows of the run")
        let map2 = map2.transform(graph: graph), map3 = map3.transform(graph: graph)
        var clusters = [Int](repeating: -1, count: graph.count)
        var probabilities: [Float?] = Array(repeating: nil, count: graph.count)
        switch clustering {
        case .hdbscan(let layout, let hdbscan):
            let (labels, strengths) = hdbscan.approximatePredict(
                layout.transform(graph: graph), training: layout.embedding)
            for i in 0..<graph.count {
                clusters[i] = labels[i] < 0 ? -1 : stable[labels[i]] ?? -1
                probabilities[i] = strengths[i]
            }
        case .kmeans(let pca, let centroids):
            for (i, nearest) in KMeans.nearest(pca.transform(vectors), centroids: centroids).enumerated() {
                clusters[i] = stable[nearest] ?? -1
            }
        }
        return (0..<graph.count).map { i in
            Placement(
                cluster: clusters[i], probability: probabilities[i],
                map2: (map2.storage[2 * i], map2.storage[2 * i + 1]),
                map3: (map3.storage[3 * i], map3.storage[3 * i + 1], map3.storage[3 * i + 2]))
        }
    }
}
