import KindredCore

// Fitted models rebuilt from what a saved run kept (kindredd's placement model, which places items
// indexed after a restart). The parts come from a file, so each initialiser checks what the model's
// methods rely on and throws `badInput` rather than let a damaged file crash them.

extension UMAP {
    /// The largest coordinate a saved embedding may hold. A fit's layouts stay within tens of
    /// units; `transform` sums and squares coordinates, and past this they could overflow to
    /// infinities that would reach the catalog and the map.
    public static let largestRestoredCoordinate: Float = 1e6

    /// A fitted map from its embedding and curve, for `transform`. The options must be ones a fit
    /// accepts, and the embedding finite and within `largestRestoredCoordinate`.
    public init(
        restoring embedding: Matrix, a: Float, b: Float, epochs: Int, initialisation: String, options: Options
    ) throws(AnalysisError) {
        try Self.validate(options)
        guard embedding.rows > 0, embedding.columns == options.dimensions,
            embedding.storage.allSatisfy({ abs($0) <= Self.largestRestoredCoordinate })
        else {
            throw .badInput(
                step: "UMAP",
                reason:
                    "a saved embedding must have \(options.dimensions) columns of finite coordinates within ±\(Self.largestRestoredCoordinate)"
            )
        }
        guard a.isFinite, b.isFinite, a > 0, b > 0 else {
            throw .badInput(step: "UMAP", reason: "a saved curve needs finite, positive a and b")
        }
        self.init(embedding: embedding, a: a, b: b, epochs: epochs, initialisation: initialisation, options: options)
    }
}

extension HDBSCAN {
    /// A fitted clustering for `approximatePredict` over `points` training points: its condensed
    /// tree, selected clusters, core distances and min_samples. The tree must have the shape a fit
    /// makes: clusters numbered from `points` (the root) up, every edge from a cluster to a point
    /// (size 1) or to a later cluster, so climbing it always ends.
    public init(
        restoring condensedTree: [CondensedEdge], selectedClusters: [Int], coreDistances: [Float], minSamples: Int,
        points: Int
    ) throws(AnalysisError) {
        func bad(_ reason: String) -> AnalysisError { .badInput(step: "HDBSCAN", reason: reason) }
        guard points > 0, coreDistances.count == points, coreDistances.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw bad("a saved model needs one finite core distance per training point")
        }
        guard (1...10_000).contains(minSamples) else { throw bad("min_samples \(minSamples) is out of range") }
        let limit = points + condensedTree.count + 1
        for edge in condensedTree {
            guard edge.parent >= points, edge.parent < limit, edge.lambda >= 0, !edge.lambda.isNaN, edge.size >= 1
            else { throw bad("a condensed-tree edge from \(edge.parent) is out of range") }
            if edge.size == 1 {
                guard edge.child >= 0, edge.child < points else {
                    throw bad("edge to point \(edge.child) of \(points)")
                }
            } else {
                guard edge.child > edge.parent, edge.child < limit else {
                    throw bad("edge from cluster \(edge.parent) to \(edge.child) does not lead down the tree")
                }
            }
        }
        guard selectedClusters.allSatisfy({ $0 >= points && $0 < limit }),
            Set(selectedClusters).count == selectedClusters.count
        else { throw bad("a selected cluster is not in the tree, or is listed twice") }
        self.init(
            labels: [], probabilities: [], outlierScores: [], clusterCount: selectedClusters.count,
            condensedTree: condensedTree, selectedClusters: selectedClusters, coreDistances: coreDistances,
            minSamples: minSamples)
    }
}

extension PCA {
    /// A fitted projection from its mean and components, for `transform`.
    public init(restoring mean: [Float], components: Matrix) throws(AnalysisError) {
        guard !mean.isEmpty, components.rows > 0, components.columns == mean.count,
            mean.allSatisfy(\.isFinite), components.storage.allSatisfy(\.isFinite)
        else { throw .badInput(step: "PCA", reason: "a saved projection must be finite, components × mean columns") }
        self.init(
            mean: mean, components: components, explainedVariance: [], varianceRatio: [], totalVariance: 0)
    }
}
