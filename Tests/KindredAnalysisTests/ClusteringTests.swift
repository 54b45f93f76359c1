import Foundation
import KindredAnalysis
import KindredCore
import Synchronization
import Testing

@Suite struct HDBSCANTests {
    @Test func agreesWithTheHdbscanLibraryOnBlobsWithNoise() throws {
        let x = try fixtureMatrix("blobs.npy")
        var options = HDBSCAN.Options()
        options.minClusterSize = 25
        options.minSamples = 10
        let ours = try HDBSCAN.fit(x, options: options)
        let reference = try fixtureLabels("blobs_hdbscan.npy")
        // The same five clusters. The two disagree on 16 of 910 boundary points: each leaves the tree
        // at exactly the λ where its cluster splits (mutual-reachability weights tie at core
        // distances), and which side it lands on depends on the order tied MST edges are merged,
        // which in the hdbscan library is an accident of its Borůvka traversal. Kindred's order is
        // fixed (weight, then edge) and its Prim and Borůvka paths agree exactly.
        #expect(ours.clusterCount == 5)
        #expect(
            adjustedRand(ours.labels, reference) > 0.97,
            "ARI against hdbscan 0.8: \(adjustedRand(ours.labels, reference))")
        #expect(adjustedRand(ours.labels, try fixtureLabels("blobs_truth.npy")) > 0.9)
        // Probabilities and outlier scores: in range, noise has probability 0, and the injected
        // uniform noise (the last 60 rows) scores as more outlying than the blob points.
        #expect(
            ours.probabilities.allSatisfy { (0...1).contains($0) }
                && ours.outlierScores.allSatisfy { (0...1).contains($0) })
        #expect(zip(ours.labels, ours.probabilities).allSatisfy { $0.0 >= 0 || $0.1 == 0 })
        let blobScore = ours.outlierScores.prefix(850).reduce(0, +) / 850,
            noiseScore = ours.outlierScores.suffix(60).reduce(0, +) / 60
        #expect(noiseScore > 2 * blobScore)

        options.selection = .leaf
        let leaf = try HDBSCAN.fit(x, options: options)
        #expect(leaf.clusterCount == 6)
        #expect(adjustedRand(leaf.labels, try fixtureLabels("blobs_hdbscan_leaf.npy")) > 0.94)
    }

    @Test func highDimensionalDataTakesThePrimPathAndFindsTheBlobs() throws {
        let (x, truth) = blobs(sizes: [120, 100, 80], d: 24, separation: 12)
        var options = HDBSCAN.Options()
        options.minClusterSize = 20
        options.minSamples = 5
        let result = try HDBSCAN.fit(x, options: options)
        #expect(result.clusterCount == 3 && adjustedRand(result.labels, truth) > 0.95)
    }

    /// Exact duplicates (distance 0, infinite λ) are common in real collections: a group of them is
    /// the densest cluster there is. On groups like these (8 × 40 identical rows, alone and beside
    /// blobs) the hdbscan library finds every group and calls nothing noise; Kindred found 2 of 8
    /// (half the rows noise) and 6 of 12 (22 %) until infinite λ counted as the library counts it.
    @Test func groupsOfIdenticalRowsAreClustersAsTheLibraryFindsThem() throws {
        var random = SeededRandom(seed: 7)
        let groups = (0..<8).map { _ in (0..<8).map { _ in 5 * random.normal() } }
        let identical = groups.flatMap { row in (0..<40).flatMap { _ in row } }
        var options = HDBSCAN.Options()
        (options.minClusterSize, options.minSamples) = (25, 10)
        let alone = try HDBSCAN.fit(Matrix(rows: 320, columns: 8, storage: identical), options: options)
        let truth = (0..<320).map { Int32($0 / 40) }
        #expect(alone.clusterCount == 8 && adjustedRand(alone.labels, truth) == 1, "\(alone.clusterCount)")
        // Beside ordinary blobs, the groups and the blobs are each a cluster.
        let (x, blobTruth) = blobs(sizes: [150, 130, 120], d: 8, separation: 40)
        let mixed = try HDBSCAN.fit(
            Matrix(rows: 320 + x.rows, columns: 8, storage: identical + x.storage), options: options)
        #expect(mixed.clusterCount == 11, "\(mixed.clusterCount)")
        #expect(adjustedRand(mixed.labels, truth + blobTruth.map { $0 + 8 }) > 0.99)
        #expect(mixed.labels.allSatisfy { $0 >= 0 }, "no row is noise")
    }

    @Test func oneClusterIsNoiseUnlessASingleClusterIsAllowed() throws {
        let (x, _) = blobs(sizes: [300], d: 2, separation: 0)
        var options = HDBSCAN.Options()
        options.minClusterSize = 200
        #expect(try HDBSCAN.fit(x, options: options).clusterCount == 0)
        options.allowSingleCluster = true
        let single = try HDBSCAN.fit(x, options: options)
        #expect(single.clusterCount == 1 && single.labels.filter { $0 == 0 }.count > 0)
    }
}

@Suite struct KMeansAndMetricsTests {
    @Test func silhouetteAndDaviesBouldinMatchScikitLearn() throws {
        let x = try fixtureMatrix("blobs.npy")
        let metrics = try ClusterMetrics.compute(x, labels: try fixtureLabels("blobs_truth.npy"))
        // scikit-learn on the same points, noise removed (make_fixtures.py prints them).
        #expect(abs(metrics.silhouette - 0.8082837) < 1e-4)
        #expect(abs(metrics.daviesBouldin - 0.2606011) < 1e-4)
        #expect(metrics.sampleSize == 850 && metrics.clusteredPoints == 850 && metrics.silhouetteByCluster.count == 5)
    }

    @Test func kIsChosenBySilhouetteAndTheBlobsAreRecovered() throws {
        let (x, truth) = blobs(sizes: [150, 120, 100, 90], d: 8, separation: 10)
        let selection = try KSelection.choose(x, ks: 2...8)
        #expect(selection.bestK == 4)
        #expect(adjustedRand(selection.best.labels, truth) > 0.99)
        let inertias = selection.candidates.map(\.inertia)
        #expect(
            zip(inertias, inertias.dropFirst()).allSatisfy { $0.0 >= $0.1 * 0.98 },
            "inertia falls with k (the elbow curve)")
    }

    @Test func aSampledSilhouetteIsCloseToTheFullOne() throws {
        let (x, truth) = blobs(sizes: [400, 400, 400], d: 6, separation: 3)
        let full = try ClusterMetrics.compute(x, labels: truth)
        let sampled = try ClusterMetrics.compute(x, labels: truth, sampleLimit: 300)
        #expect(sampled.sampleSize == 300 && abs(sampled.silhouette - full.silhouette) < 0.03)
    }
}

@Suite struct UMAPTests {
    @Test func curveParametersMatchUmapLearn() {
        // umap-learn's find_ab_params(1.0, 0.1) gives a = 1.5769, b = 0.8951.
        let (a, b) = UMAP.fitCurve(minDist: 0.1, spread: 1)
        #expect(abs(a - 1.5769) < 2e-3 && abs(b - 0.8951) < 2e-3, "\(a), \(b)")
    }

    @Test func separableDataStaysSeparatedAndTrustworthy() throws {
        let (x, truth) = blobs(sizes: [150, 150, 150, 150], d: 16, separation: 8, seed: 3)
        var options = UMAP.Options()
        options.metric = .l2
        options.seed = 7
        options.threads = 1
        let umap = try UMAP.fit(x, options: options)
        #expect(umap.epochs == 500)
        #expect(trustworthiness(x, umap.embedding, k: 10) > 0.9)
        var hdbscan = HDBSCAN.Options()
        hdbscan.minClusterSize = 30
        #expect(
            adjustedRand(try HDBSCAN.fit(umap.embedding, options: hdbscan).labels, truth) > 0.95,
            "the clusters survive the layout")
        // Reproducible for a fixed seed and thread count, given the same neighbour graph. (The
        // exact graph comes from sgemm, whose last bits can depend on how many threads OpenBLAS
        // uses, which other code in this process changes; the layout amplifies any difference.)
        let graph = try NeighborGraph.build(x, k: options.neighbors - 1, metric: .l2)
        let once = try UMAP.fit(graph: graph, options: options).embedding
        #expect(try UMAP.fit(graph: graph, options: options).embedding == once)
        options.threads = 2
        let twoThreads = try UMAP.fit(graph: graph, options: options).embedding
        #expect(try UMAP.fit(graph: graph, options: options).embedding == twoThreads)
        options.dimensions = 3
        #expect(try UMAP.fit(x, options: options).embedding.columns == 3)
    }

    /// `shouldStop` ends the optimisation at the next epoch with a typed error naming how far it got.
    @Test func aFitAskedToStopEndsAtTheNextEpoch() throws {
        let (x, _) = blobs(sizes: [100, 100], d: 8, separation: 8, seed: 5)
        var options = UMAP.Options()
        options.metric = .l2
        options.threads = 1
        let epochs = Mutex(0)
        options.progress = { _ in epochs.withLock { $0 += 1 } }
        options.shouldStop = { epochs.withLock { $0 } >= 3 }
        #expect(throws: AnalysisError.cancelled(step: "UMAP", after: "3 of 500 epochs")) {
            try UMAP.fit(x, options: options)
        }
    }

    @Test func aConnectedGraphStartsFromItsSpectralLayout() throws {
        // A noisy closed curve in 10-d: one connected manifold, whose first two Laplacian
        // eigenvectors lay it out as a ring.
        var random = SeededRandom(seed: 2)
        let n = 400
        var values: [Float] = []
        for i in 0..<n {
            let t = 2 * Float.pi * Float(i) / Float(n)
            values += [cosf(t), sinf(t)] + (0..<8).map { _ in 0.02 * random.normal() }
        }
        let x = Matrix(rows: n, columns: 10, storage: values)
        var options = UMAP.Options()
        options.metric = .l2
        options.epochs = 1  // barely moved from the initial layout
        let umap = try UMAP.fit(x, options: options)
        #expect(umap.initialisation == "spectral")
        // Neighbours along the curve stay neighbours: consecutive points are far closer than average.
        let y = umap.embedding
        func distance(_ i: Int, _ j: Int) -> Float {
            ((y.storage[2 * i] - y.storage[2 * j]) * (y.storage[2 * i] - y.storage[2 * j])
                + (y.storage[2 * i + 1] - y.storage[2 * j + 1]) * (y.storage[2 * i + 1] - y.storage[2 * j + 1]))
                .squareRoot()
        }
        let consecutive = (0..<n).map { distance($0, ($0 + 1) % n) }.reduce(0, +) / Float(n)
        let opposite = (0..<n).map { distance($0, ($0 + n / 2) % n) }.reduce(0, +) / Float(n)
        #expect(consecutive * 10 < opposite, "\(consecutive) vs \(opposite)")
    }

    @Test func aDisconnectedGraphStartsAtRandom() throws {
        // Two groups far apart with 5 neighbours each: no edge joins them.
        let (x, _) = blobs(sizes: [40, 40], d: 4, separation: 1000, spread: 1)
        var options = UMAP.Options()
        options.metric = .l2
        options.neighbors = 5
        let umap = try UMAP.fit(x, options: options)
        #expect(umap.initialisation == "random" && umap.embedding.storage.allSatisfy(\.isFinite))
    }
}

@Suite struct ClusterMatchingTests {
    @Test func matchedClustersKeepTheirIdsOthersAreBornOrVanish() {
        let previous: [Int: Set<UInt64>] = [4: Set(1...10), 7: Set(11...20), 9: Set(21...30)]
        // Label 0 is cluster 4 with two members swapped; label 1 merges 7 and 9 (a tie broken
        // toward the better overlap); label 2 is new; cluster 9 has no successor of its own.
        let new: [Int: Set<UInt64>] = [0: Set(1...8).union([31, 32]), 1: Set(11...20).union(21...24), 2: Set(40...44)]
        let result = ClusterMatching.match(new: new, previous: previous, threshold: 0.3, firstNewID: 10)
        #expect(result.ids == [0: 4, 1: 7, 2: 10])
        #expect(abs(result.jaccard[0]! - 8.0 / 12.0) < 1e-9 && abs(result.jaccard[1]! - 10.0 / 14.0) < 1e-9)
        #expect(result.born == [2] && result.vanished == [9])
    }

    @Test func overlapBelowTheThresholdIsANewCluster() {
        let result = ClusterMatching.match(
            new: [0: Set(1...10)], previous: [3: Set(8...40)], threshold: 0.3, firstNewID: 4)
        #expect(result.ids == [0: 4] && result.vanished == [3])
    }
}

@Suite struct PredictionTests {
    @Test func approximatePredictAgreesWithRefitting() throws {
        let x = try fixtureMatrix("blobs.npy")
        // Hold out every tenth point, fit on the rest, predict the held-out ones.
        let held = Array(stride(from: 0, to: x.rows, by: 10)), kept = (0..<x.rows).filter { $0 % 10 != 0 }
        func rows(_ indices: [Int]) -> Matrix {
            Matrix(rows: indices.count, columns: 2, storage: indices.flatMap { x.row($0) })
        }
        var options = HDBSCAN.Options()
        options.minClusterSize = 25
        options.minSamples = 10
        let model = try HDBSCAN.fit(rows(kept), options: options)
        let (predicted, probabilities) = model.approximatePredict(rows(held), training: rows(kept))
        // Refit on everything; map the model's labels to the refit's by majority over the kept points.
        let full = try HDBSCAN.fit(x, options: options)
        var votes: [Int32: [Int32: Int]] = [:]
        for (i, row) in kept.enumerated() { votes[model.labels[i], default: [:]][full.labels[row], default: 0] += 1 }
        let mapping = votes.mapValues { $0.max { $0.value < $1.value }!.key }
        let agree = zip(held, predicted).filter { row, label in (label < 0 ? -1 : mapping[label]!) == full.labels[row] }
            .count
        #expect(Double(agree) / Double(held.count) >= 0.95, "\(agree) of \(held.count)")
        #expect(zip(predicted, probabilities).allSatisfy { $0.0 >= 0 ? (0...1).contains($0.1) : $0.1 == 0 })
    }
}

@Suite struct TransformAndBadInputTests {
    @Test func newPointsLandAmongTheirNeighbours() throws {
        let (x, truth) = blobs(sizes: [120, 120, 120], d: 8, separation: 10, seed: 4)
        let held = Array(stride(from: 0, to: x.rows, by: 12)), kept = (0..<x.rows).filter { $0 % 12 != 0 }
        func rows(_ indices: [Int]) -> Matrix {
            Matrix(rows: indices.count, columns: 8, storage: indices.flatMap { x.row($0) })
        }
        var options = UMAP.Options()
        options.metric = .l2
        let training = rows(kept)
        let umap = try UMAP.fit(training, options: options)
        // The new points' neighbours among the fitted ones, as the daemon's index would give them.
        let neighbours = try ExactNeighbours.of(rows(held), in: training, k: 14)
        let placed = umap.transform(graph: neighbours)
        // Each new point lands nearest to the centre of its own blob's fitted points.
        var centres: [Int32: (Float, Float, Int)] = [:]
        for (i, row) in kept.enumerated() {
            let c = centres[truth[row]] ?? (0, 0, 0)
            centres[truth[row]] = (
                c.0 + umap.embedding.storage[2 * i], c.1 + umap.embedding.storage[2 * i + 1], c.2 + 1
            )
        }
        for (i, row) in held.enumerated() {
            let p = (placed.storage[2 * i], placed.storage[2 * i + 1])
            let nearest = centres.min { a, b in
                let da =
                    (p.0 - a.value.0 / Float(a.value.2)) * (p.0 - a.value.0 / Float(a.value.2))
                    + (p.1 - a.value.1 / Float(a.value.2)) * (p.1 - a.value.1 / Float(a.value.2))
                let db =
                    (p.0 - b.value.0 / Float(b.value.2)) * (p.0 - b.value.0 / Float(b.value.2))
                    + (p.1 - b.value.1 / Float(b.value.2)) * (p.1 - b.value.1 / Float(b.value.2))
                return da < db
            }!.key
            #expect(nearest == truth[row], "held-out point \(row)")
        }
    }

    @Test func aLayoutFittedOnASampleKeepsTheClustersAndTheTrustOfAFullFit() throws {
        let (x, truth) = blobs(sizes: [300, 300, 300, 300], d: 16, separation: 8, seed: 5)
        var options = UMAP.Options()
        options.metric = .l2
        options.seed = 2
        let full = try UMAP.fit(x, options: options)
        let rows = NeighborGraph.sampleRows(x.rows, count: 300, seed: 9)
        #expect(rows.count == 300 && Set(rows).count == 300 && rows == rows.sorted())
        #expect(NeighborGraph.sampleRows(x.rows, count: 300, seed: 9) == rows, "the sample is seeded")
        let graphs = try NeighborGraph.build(x, fitting: rows, k: options.neighbors - 1, metric: .l2)
        #expect(graphs.fitted == rows && graphs.placed.count == 900 && Set(graphs.fitted + graphs.placed).count == 1200)
        // Every placed row's neighbours are sample positions; no fitted row is its own neighbour.
        #expect(graphs.placedGraph.indices.allSatisfy { (0..<300).contains($0) })
        for p in 0..<300 {
            #expect(!graphs.fittedGraph.indices[(p * 14)..<((p + 1) * 14)].contains(Int32(p)))
        }
        let sampled = try UMAP.fit(sampled: graphs, options: options)
        #expect(sampled.embedding.rows == x.rows && sampled.embedding.storage.allSatisfy(\.isFinite))
        let (fullTrust, sampledTrust) = (
            trustworthiness(x, full.embedding, k: 10), trustworthiness(x, sampled.embedding, k: 10)
        )
        #expect(sampledTrust > 0.9 && sampledTrust > fullTrust - 0.03, "\(sampledTrust) against \(fullTrust)")
        var hdbscan = HDBSCAN.Options()
        hdbscan.minClusterSize = 30
        #expect(adjustedRand(try HDBSCAN.fit(sampled.embedding, options: hdbscan).labels, truth) > 0.95)
        // The fitted rows keep their places from the sample's own fit.
        let alone = try UMAP.fit(graph: graphs.fittedGraph, options: options)
        for (position, row) in rows.enumerated() {
            #expect(sampled.embedding.row(row) == alone.embedding.row(position))
        }
    }

    @Test func transformGivesTheSamePlacesOnAnyThreadCount() throws {
        let (x, _) = blobs(sizes: [1500, 1500], d: 8, separation: 10, seed: 6)
        var options = UMAP.Options()
        options.metric = .l2
        options.epochs = 20
        let sample = NeighborGraph.sampleRows(x.rows, count: 500, seed: 1)
        // Above exactLimit the sample's index is HNSW; its neighbours agree with the exact ones.
        let graphs = try NeighborGraph.build(x, fitting: sample, k: 14, metric: .l2, exactLimit: 100, threads: 2)
        let exact = try NeighborGraph.build(x, fitting: sample, k: 14, metric: .l2)
        var same = 0
        for (graph, truth) in [(graphs.fittedGraph, exact.fittedGraph), (graphs.placedGraph, exact.placedGraph)] {
            for row in 0..<graph.count {
                same +=
                    Set(graph.indices[(row * 14)..<((row + 1) * 14)])
                    .intersection(truth.indices[(row * 14)..<((row + 1) * 14)]).count
            }
        }
        #expect(Double(same) / Double(x.rows * 14) > 0.95, "\(same) of \(x.rows * 14)")
        options.threads = 1
        let fitted = try UMAP.fit(graph: graphs.fittedGraph, options: options)
        let one = fitted.transform(graph: graphs.placedGraph)
        var twoThreads = fitted
        twoThreads.options.threads = 2
        #expect(twoThreads.transform(graph: graphs.placedGraph) == one, "blocks of 1,024 seeded by position")
        #expect(one.rows == 2500)
    }

    @Test func aSampleThatIsNotRowsOfTheDataIsRefused() {
        let (x, _) = blobs(sizes: [50, 50], d: 4, separation: 5)
        for bad in [[3, 2, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53], Array(90..<106), Array(0..<5)] {
            #expect(throws: AnalysisError.self) { try NeighborGraph.build(x, fitting: bad, k: 14, metric: .l2) }
        }
    }

    @Test func badInputIsRejectedWithWhatToDo() {
        var withNaN = blobs(sizes: [20, 20], d: 3, separation: 5).0
        withNaN.storage[17 * 3 + 1] = .nan
        #expect { try UMAP.fit(withNaN) } throws: {
            "\($0)" == "UMAP: row 17 has a NaN or infinite value in column 1; drop or impute such rows first"
        }
        #expect { try PCA.fit(withNaN) } throws: { "\($0)".contains("row 17 has a NaN") }
        #expect { try KMeans.fit(withNaN, k: 2) } throws: { "\($0)".contains("row 17 has a NaN") }
        let constant = Matrix(rows: 30, columns: 4, repeating: 1)
        #expect { try UMAP.fit(constant) } throws: {
            "\($0)" == "UMAP: all 30 rows are identical, so there is nothing to lay out or cluster"
        }
        #expect { try HDBSCAN.fit(constant) } throws: { "\($0)".contains("all 30 rows are identical") }
        let few = blobs(sizes: [5, 5], d: 3, separation: 5).0
        #expect { try UMAP.fit(few) } throws: {
            "\($0)"
                == "neighbors = 15 is invalid: it must be below the number of points (10); lower --neighbors or add data"
        }
        #expect { try HDBSCAN.fit(few) } throws: { "\($0)".contains("lower --min-samples or add data") }
    }
}
