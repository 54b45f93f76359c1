import Foundation
import KindredAnalysis
import KindredCore
import KindredEngine
import KindredTestSupport
import Testing

/// The saved placement model (Schema/placement.md) read back from a file kindredd did not
/// necessarily write intact. Each damaged model here loaded before its check existed, and placing
/// items with it then trapped (or would have put infinities in the catalog); now the load refuses
/// it, saying what is wrong, and a model that loads places items at finite coordinates.
@Suite struct PlacementModelTests {
    let dimension = Space.cnn.dimension

    /// Three blobs of 20 vectors in the cnn space's 1,280 dimensions.
    func vectors(_ rows: Int, seed: UInt64) -> Matrix {
        var random = SeededRandom(seed: seed)
        var storage = [Float](repeating: 0, count: rows * dimension)
        for row in 0..<rows {
            let blob = row % 3
            for column in 0..<dimension {
                storage[row * dimension + column] =
                    (column % 3 == blob ? 1 : 0) + 0.1 * (Float(random.unit()) - 0.5)
            }
        }
        return Matrix(rows: rows, columns: dimension, storage: storage)
    }

    func umap(_ x: Matrix, dimensions: Int) throws -> UMAP {
        var options = UMAP.Options()
        (options.neighbors, options.dimensions, options.epochs, options.threads) = (8, dimensions, 50, 1)
        return try UMAP.fit(x, options: options)
    }

    /// A fitted model of 60 items, k-means on a PCA projection or HDBSCAN on a 2-D layout, saved
    /// as run 1 in a fresh state directory.
    func savedModel(hdbscan: Bool) throws -> StatePaths {
        let x = vectors(60, seed: 1)
        let clustering: PlacementModel.Clustering
        if hdbscan {
            let layout = try umap(x, dimensions: 2)
            var options = HDBSCAN.Options()
            (options.minClusterSize, options.minSamples, options.threads) = (5, 3, 1)
            clustering = .hdbscan(layout: layout, model: try HDBSCAN.fit(layout.embedding, options: options))
        } else {
            var options = PCA.Options()
            options.maxComponents = 4
            let pca = try PCA.fit(x, options: options)
            clustering = .kmeans(pca: pca, centroids: try KMeans.fit(pca.transform(x), k: 3).centroids)
        }
        let model = PlacementModel(
            run: 1, ids: (1...60).map { UInt64($0) }, map2: try umap(x, dimensions: 2),
            map3: try umap(x, dimensions: 3),
            clustering: clustering, stable: [0: 0, 1: 1, 2: 2])
        let paths = StatePaths(root: temporaryDirectory("placement"))
        try model.save(in: paths)
        return paths
    }

    /// Two new items near the first two fitted ones.
    func placeTwo(with model: PlacementModel) -> [PlacementModel.Placement] {
        let k = 7
        let graph = NeighborGraph(
            count: 2, k: k, indices: (0..<2 * k).map { Int32(3 * ($0 % k) + $0 / k) },
            distances: (0..<2 * k).map { 0.05 + 0.01 * Float($0 % k) })
        return model.place(vectors(2, seed: 2), neighbours: graph)
    }

    func file(_ paths: StatePaths, _ name: String) -> URL {
        paths.root.appendingPathComponent("placement-1/\(name)")
    }

    /// Rewrites meta.json's map `name` through `change`.
    func editMap(_ paths: StatePaths, _ name: String, _ change: (inout [String: Any]) -> Void) throws {
        let url = file(paths, "meta.json")
        var meta = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var maps = try #require(meta["maps"] as? [String: Any])
        var map = try #require(maps[name] as? [String: Any])
        change(&map)
        maps[name] = map
        meta["maps"] = maps
        try JSONSerialization.data(withJSONObject: meta).write(to: url)
    }

    func refusal(_ paths: StatePaths) -> String {
        do {
            _ = try PlacementModel.load(from: paths, run: 1)
            return ""
        } catch { return "\(error)" }
    }

    @Test(arguments: [false, true]) func aSavedModelLoadsAndPlacesItemsWhereItsFitWould(hdbscan: Bool) throws {
        let paths = try savedModel(hdbscan: hdbscan)
        defer { try? FileManager.default.removeItem(at: paths.root) }
        let model = try #require(try PlacementModel.load(from: paths, run: 1))
        let placed = placeTwo(with: model)
        #expect(placed.count == 2)
        for placement in placed {
            let coordinates = [
                placement.map2.0, placement.map2.1, placement.map3.0, placement.map3.1, placement.map3.2,
            ]
            #expect(coordinates.allSatisfy { $0.isFinite })
            #expect((-1...2).contains(placement.cluster))
        }
        // Neighbours from the first and the second blob land in different clusters (k-means
        // assigns every item; HDBSCAN may call one noise).
        if !hdbscan { #expect(placed[0].cluster != placed[1].cluster, "\(placed.map(\.cluster))") }
    }

    @Test func aMapOfTheWrongDimensionIsRefused() throws {
        let paths = try savedModel(hdbscan: false)
        defer { try? FileManager.default.removeItem(at: paths.root) }
        // map2 saved as a 3-D map: a consistent file, but the catalog keeps two coordinates.
        let map3 = try Npy.readMatrix(file(paths, "map3.npy"))
        try Npy.write(map3, to: file(paths, "map2.npy"))
        try editMap(paths, "map2") { $0["dimensions"] = 3 }
        #expect(refusal(paths).contains("map2 has 3 dimensions, not 2"), "\(refusal(paths))")
    }

    @Test func aProjectionOfAnotherSpaceIsRefused() throws {
        let paths = try savedModel(hdbscan: false)
        defer { try? FileManager.default.removeItem(at: paths.root) }
        // A PCA of 16 columns with its components and centroids consistent with it.
        try Npy.write(NpyArray(shape: [16], values: [Float](repeating: 0, count: 16)), to: file(paths, "pca-mean.npy"))
        let components = try Npy.readMatrix(file(paths, "pca-components.npy"))
        try Npy.write(
            Matrix(
                rows: components.rows, columns: 16,
                storage: (0..<components.rows * 16).map { Float($0 % 17 == 0 ? 1 : 0) }),
            to: file(paths, "pca-components.npy"))
        #expect(refusal(paths).contains("the PCA projects 16 columns; the cnn space has 1280"), "\(refusal(paths))")
    }

    @Test(arguments: [
        ("negativeSampleRate", -1 as Double, "negative-sample-rate"), ("learningRate", 1e30, "learning-rate"),
        ("repulsionStrength", -2, "repulsion-strength"), ("neighbors", 0, "neighbors"), ("dimensions", 0, "dims"),
    ])
    func aCurveOrOptionNoFitWouldTakeIsRefused(key: String, value: Double, named: String) throws {
        let paths = try savedModel(hdbscan: true)
        defer { try? FileManager.default.removeItem(at: paths.root) }
        try editMap(paths, "layout") { $0[key] = value }
        #expect(refusal(paths).contains(named), "\(refusal(paths))")
    }

    @Test func coordinatesThatWouldOverflowAreRefused() throws {
        let paths = try savedModel(hdbscan: true)
        defer { try? FileManager.default.removeItem(at: paths.root) }
        var map = try Npy.readMatrix(file(paths, "map3.npy"))
        map.storage[0] = 3e38
        try Npy.write(map, to: file(paths, "map3.npy"))
        #expect(refusal(paths).contains("finite coordinates within"), "\(refusal(paths))")
    }
}
