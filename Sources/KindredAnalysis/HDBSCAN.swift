import Dispatch
import Foundation
import KindredCore

/// HDBSCAN (Campello, Moulavi & Sander 2013; the hdbscan library's design, McInnes & Healy 2017):
/// core distances from the k nearest neighbours, a minimum spanning tree of the mutual-reachability
/// graph (Borůvka over a k-d tree in low dimension, Prim over exact distances otherwise), single
/// linkage, the tree condensed at `minClusterSize`, clusters chosen by excess of mass or as leaves.
/// Also membership probabilities and GLOSH outlier scores. Noise is −1.
public struct HDBSCAN: Sendable {
    public var labels: [Int32]
    /// How strongly each point belongs to its cluster, 0…1 (0 for noise).
    public let probabilities: [Float]
    /// GLOSH outlier scores, 0…1: how much of an outlier each point is within its part of the tree.
    public let outlierScores: [Float]
    public let clusterCount: Int
    /// The condensed tree (parent, child, λ = 1/distance, child size), children beyond `n` being
    /// clusters; kept for `approximatePredict`-style uses and the report.
    public let condensedTree: [CondensedEdge]
    /// The selected clusters' ids in the condensed tree, in label order.
    public let selectedClusters: [Int]
    /// Each training point's core distance, and the core-distance neighbour count, for `approximatePredict`.
    public var coreDistances: [Float] = []
    public var minSamples = 0

    public struct CondensedEdge: Sendable, Equatable {
        public var parent: Int, child: Int
        public var lambda: Double
        public var size: Int

        public init(parent: Int, child: Int, lambda: Double, size: Int) {
            (self.parent, self.child, self.lambda, self.size) = (parent, child, lambda, size)
        }
    }

    public enum Selection: String, Sendable, CaseIterable { case eom, leaf }

    public struct Options: Sendable {
        public var minClusterSize = 25
        /// A point's core distance is to its minSamples-th nearest other point (the hdbscan library's
        /// convention; scikit-learn's HDBSCAN counts the point itself). nil: minClusterSize.
        public var minSamples: Int? = 10
        public var selection = Selection.eom
        public var allowSingleCluster = false
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        public init() {}
    }

    public static func fit(_ x: Matrix, options: Options = Options()) throws(AnalysisError) -> HDBSCAN {
        let n = x.rows
        let minSamples = options.minSamples ?? options.minClusterSize
        guard options.minClusterSize >= 2 else {
            throw .invalidParameter(
                name: "min-cluster-size", value: "\(options.minClusterSize)", requirement: "at least 2")
        }
        guard minSamples >= 1 else {
            throw .invalidParameter(name: "min-samples", value: "\(minSamples)", requirement: "at least 1")
        }
        guard n > minSamples else {
            throw .invalidParameter(
                name: "min-samples", value: "\(minSamples)",
                requirement: "it must be below the number of points (\(n)); lower --min-samples or add data")
        }
        try x.validateForAnalysis(step: "HDBSCAN")
        let edges: [Edge], core: [Float]
        if x.columns <= 16 {
            let mst = BoruvkaMST(x, minSamples: minSamples, threads: options.threads)
            edges = mst.edges()
            core = mst.coreByRow
        } else {
            core = exactCoreDistances(x, minSamples: minSamples)
            edges = primMST(x, core: core)
        }
        let linkage = singleLinkage(edges, n: n)
        let tree = condense(linkage, n: n, minClusterSize: options.minClusterSize)
        var result = select(tree, n: n, options: options)
        result.coreDistances = core
        result.minSamples = minSamples
        return result
    }

    // MARK: Minimum spanning tree

    struct Edge { var a: Int, b: Int, weight: Float }

    /// Prim's algorithm on the dense mutual-reachability graph: O(n²) distances, for high dimension.
    static func primMST(_ x: Matrix, core: [Float]) -> [Edge] {
        let n = x.rows, d = x.columns
        var inTree = [Bool](repeating: false, count: n)
        var best = [Float](repeating: .infinity, count: n), from = [Int](repeating: 0, count: n)
        var edges: [Edge] = []
        var current = 0
        inTree[0] = true
        x.storage.withUnsafeBufferPointer { v in
            for _ in 1..<n {
                var next = -1, nextWeight = Float.infinity
                for j in 0..<n where !inTree[j] {
                    var sum: Float = 0
                    for c in 0..<d { let e = v[current * d + c] - v[j * d + c]; sum += e * e }
                    let weight = max(sum.squareRoot(), core[current], core[j])
                    if weight < best[j] { best[j] = weight; from[j] = current }
                    if best[j] < nextWeight { nextWeight = best[j]; next = j }
                }
                inTree[next] = true
                edges.append(Edge(a: from[next], b: next, weight: nextWeight))
                current = next
            }
        }
        return edges
    }

    static func exactCoreDistances(_ x: Matrix, minSamples: Int) -> [Float] {
        let n = x.rows, d = x.columns
        let norms = x.storage.withUnsafeBufferPointer { Distances.squaredNorms($0.baseAddress!, rows: n, columns: d) }
        var core = [Float](repeating: 0, count: n)
        let block = 512
        var distances = [Float](repeating: 0, count: block * n)
        for first in stride(from: 0, to: n, by: block) {
            let count = min(block, n - first)
            x.storage.withUnsafeBufferPointer { v in
                norms.withUnsafeBufferPointer { nr in
                    distances.withUnsafeMutableBufferPointer { out in
                        Distances.squared(
                            v.baseAddress! + first * d, nr.baseAddress! + first, n: count, v.baseAddress!,
                            nr.baseAddress!, m: n, columns: d, into: out.baseAddress!)
                    }
                }
            }
            for i in 0..<count {
                var row = Array(distances[(i * n)..<((i + 1) * n)])
                row[first + i] = 0
                row.sort()
                core[first + i] = row[min(n - 1, minSamples)].squareRoot()
            }
        }
        return core
    }

    // MARK: Single linkage and the condensed tree

    /// scipy-style linkage: row i merges `left` and `right` into node n + i at `distance`.
    struct Merge { var left: Int, right: Int, distance: Double, size: Int }

    static func singleLinkage(_ edges: [Edge], n: Int) -> [Merge] {
        let sorted = edges.enumerated().sorted { ($0.element.weight, $0.offset) < ($1.element.weight, $1.offset) }.map(
            \.element)
        var sets = UnionFind(count: 2 * n - 1), size = [Int](repeating: 1, count: 2 * n - 1)
        var merges: [Merge] = []
        merges.reserveCapacity(n - 1)
        for edge in sorted {
            let a = sets.find(edge.a), b = sets.find(edge.b)
            guard a != b else { continue }
            let node = n + merges.count
            merges.append(Merge(left: a, right: b, distance: Double(edge.weight), size: size[a] + size[b]))
            sets.attach(a, to: node)
            sets.attach(b, to: node)
            size[node] = size[a] + size[b]
        }
        return merges
    }

    static func condense(_ merges: [Merge], n: Int, minClusterSize: Int) -> [CondensedEdge] {
        let root = 2 * n - 2
        func children(_ node: Int) -> (Int, Int) { (merges[node - n].left, merges[node - n].right) }
        func size(_ node: Int) -> Int { node < n ? 1 : merges[node - n].size }
        func leaves(_ node: Int) -> [Int] {
            var out: [Int] = [], stack = [node]
            while let next = stack.popLast() {
                if next < n { out.append(next) } else { let (l, r) = children(next); stack.append(l); stack.append(r) }
            }
            return out
        }
        var relabel = [Int: Int]()
        relabel[root] = n
        var nextLabel = n + 1
        var result: [CondensedEdge] = []
        // Breadth first from the root, skipping subtrees that fell out whole.
        var queue = [root], head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            guard node >= n, let label = relabel[node] else { continue }
            let (left, right) = children(node)
            let distance = merges[node - n].distance
            let lambda = distance > 0 ? 1 / distance : .infinity
            let (leftSize, rightSize) = (size(left), size(right))
            if leftSize >= minClusterSize && rightSize >= minClusterSize {
                for child in [left, right] {
                    relabel[child] = nextLabel
                    result.append(CondensedEdge(parent: label, child: nextLabel, lambda: lambda, size: size(child)))
                    nextLabel += 1
                    queue.append(child)
                }
            } else if leftSize < minClusterSize && rightSize < minClusterSize {
                for child in [left, right] {
                    for point in leaves(child) {
                        result.append(CondensedEdge(parent: label, child: point, lambda: lambda, size: 1))
                    }
                }
            } else {
                let (small, large) = leftSize < minClusterSize ? (left, right) : (right, left)
                relabel[large] = label
                queue.append(large)
                for point in leaves(small) {
                    result.append(CondensedEdge(parent: label, child: point, lambda: lambda, size: 1))
                }
            }
        }
        return result
    }

    // MARK: Selection, labels, probabilities, outlier scores

    static func select(_ tree: [CondensedEdge], n: Int, options: Options) -> HDBSCAN {
        let root = n
        let clusterIDs = Array(Set(tree.map(\.parent)).union(tree.filter { $0.size > 1 }.map(\.child))).sorted()
        var birth: [Int: Double] = [root: 0]
        var childClusters: [Int: [Int]] = [:]
        var maxChildLambda: [Int: Double] = [:]  // deaths: the largest λ among a cluster's rows
        for edge in tree {
            if edge.size > 1 {
                birth[edge.child] = edge.lambda; childClusters[edge.parent, default: []].append(edge.child)
            }
            maxChildLambda[edge.parent] = max(maxChildLambda[edge.parent] ?? 0, edge.lambda.isFinite ? edge.lambda : 0)
        }
        // Rows that leave a cluster at infinite λ (distance 0: exact duplicates, common in real
        // collections) make its stability infinite, as in the hdbscan library and scikit-learn, so
        // it wins against any finite subtree or parent and ties with an infinite one. A cluster
        // itself born at infinite λ (a split among duplicates) gains nothing from them: ∞ − ∞.
        var stability: [Int: Double] = [:]
        for edge in tree {
            let born = birth[edge.parent, default: 0]
            let gain =
                edge.lambda.isInfinite ? (born.isInfinite ? 0 : .infinity) : (edge.lambda - born) * Double(edge.size)
            stability[edge.parent, default: 0] += gain
        }
        var selected = Set<Int>()
        func descendants(_ cluster: Int) -> [Int] {
            var out: [Int] = [], stack = childClusters[cluster] ?? []
            while let next = stack.popLast() { out.append(next); stack += childClusters[next] ?? [] }
            return out
        }
        switch options.selection {
        case .eom:
            var isCluster = Dictionary(uniqueKeysWithValues: clusterIDs.map { ($0, true) })
            let candidates = clusterIDs.filter { $0 != root || options.allowSingleCluster }
            for cluster in candidates.sorted(by: >) {
                let subtree = (childClusters[cluster] ?? []).reduce(0.0) { $0 + (stability[$1] ?? 0) }
                if subtree > stability[cluster, default: 0] {
                    isCluster[cluster] = false
                    stability[cluster] = subtree
                } else {
                    for d in descendants(cluster) { isCluster[d] = false }
                }
            }
            selected = Set(candidates.filter { isCluster[$0] == true })
        case .leaf:
            let leaves = clusterIDs.filter { $0 != root && childClusters[$0] == nil }
            selected = Set(leaves.isEmpty && options.allowSingleCluster ? [root] : leaves)
        }
        // Each point's cluster: climb the condensed tree until a selected cluster (or the root).
        var parentOf: [Int: Int] = [:]
        var pointLambda = [Double](repeating: 0, count: n), pointParent = [Int](repeating: root, count: n)
        for edge in tree {
            if edge.size > 1 {
                parentOf[edge.child] = edge.parent
            } else {
                pointLambda[edge.child] = edge.lambda; pointParent[edge.child] = edge.parent
            }
        }
        let order = selected.sorted()
        let labelOf = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, Int32($0)) })
        var labels = [Int32](repeating: -1, count: n)
        var probabilities = [Float](repeating: 0, count: n)
        // The largest λ at which any point of a selected cluster's subtree leaves it.
        var subtreeDeath: [Int: Double] = [:]
        for cluster in clusterIDs.sorted(by: >) {
            var death = maxChildLambda[cluster] ?? 0
            for child in childClusters[cluster] ?? [] { death = max(death, subtreeDeath[child] ?? 0) }
            subtreeDeath[cluster] = death
        }
        for point in 0..<n {
            var cluster = pointParent[point]
            while !selected.contains(cluster), let up = parentOf[cluster] { cluster = up }
            guard selected.contains(cluster) else { continue }
            if cluster == root {
                // A single root cluster keeps only points as dense as its densest departures (hdbscan's rule).
                guard pointLambda[point] >= (maxChildLambda[root] ?? 0) else { continue }
            }
            labels[point] = labelOf[cluster]!
            let death = subtreeDeath[cluster] ?? 0
            let lambda = pointLambda[point]
            probabilities[point] = death > 0 && lambda.isFinite ? Float(min(lambda, death) / death) : 1
        }
        // GLOSH: (λ_max − λ_point) / λ_max, λ_max the greatest λ in the subtree the point left.
        let outliers = (0..<n).map { point -> Float in
            let death = subtreeDeath[pointParent[point]] ?? 0
            let lambda = pointLambda[point]
            guard death > 0, lambda.isFinite else { return 0 }
            return Float(max(0, (death - lambda) / death))
        }
        return HDBSCAN(
            labels: labels, probabilities: probabilities, outlierScores: outliers, clusterCount: order.count,
            condensedTree: tree, selectedClusters: order)
    }

    // MARK: Prediction

    /// Labels and membership probabilities for new points without refitting (the hdbscan
    /// library's `approximate_predict`): each new point gets a core distance from its neighbours
    /// among the training points, joins the training point it is nearest to in mutual
    /// reachability, at λ = 1 / that distance, and takes the cluster that neighbour's branch of
    /// the condensed tree belongs to at that λ. Points that land where only noise is are −1.
    public func approximatePredict(_ points: Matrix, training: Matrix) -> (labels: [Int32], probabilities: [Float]) {
        precondition(
            points.columns == training.columns && training.rows == coreDistances.count,
            "predict in the space the model was fitted in")
        let n = training.rows, root = n
        var parentOf: [Int: Int] = [:], birth: [Int: Double] = [root: 0], pointParent = [Int](repeating: root, count: n)
        var pointLambda = [Double](repeating: 0, count: n), deaths: [Int: Double] = [:]
        for edge in condensedTree {
            if edge.size > 1 {
                parentOf[edge.child] = edge.parent; birth[edge.child] = edge.lambda
            } else {
                pointParent[edge.child] = edge.parent; pointLambda[edge.child] = edge.lambda
            }
            if edge.lambda.isFinite { deaths[edge.parent] = max(deaths[edge.parent] ?? 0, edge.lambda) }
        }
        let selected = Dictionary(uniqueKeysWithValues: selectedClusters.enumerated().map { ($1, Int32($0)) })
        let k = max(1, minSamples)
        var labels = [Int32](repeating: -1, count: points.rows),
            probabilities = [Float](repeating: 0, count: points.rows)
        let trainingNorms = training.storage.withUnsafeBufferPointer {
            Distances.squaredNorms($0.baseAddress!, rows: n, columns: training.columns)
        }
        let pointNorms = points.storage.withUnsafeBufferPointer {
            Distances.squaredNorms($0.baseAddress!, rows: points.rows, columns: points.columns)
        }
        var distances = [Float](repeating: 0, count: n)
        for i in 0..<points.rows {
            points.storage.withUnsafeBufferPointer { p in
                training.storage.withUnsafeBufferPointer { t in
                    trainingNorms.withUnsafeBufferPointer { tn in
                        pointNorms.withUnsafeBufferPointer { pn in
                            distances.withUnsafeMutableBufferPointer { out in
                                Distances.squared(
                                    p.baseAddress! + i * points.columns, pn.baseAddress! + i, n: 1, t.baseAddress!,
                                    tn.baseAddress!, m: n,
                                    columns: training.columns, into: out.baseAddress!)
                            }
                        }
                    }
                }
            }
            let order = distances.indices.sorted { distances[$0] < distances[$1] }
            let core = distances[order[min(k, n) - 1]].squareRoot()
            // The nearest training point in mutual reachability, among the nearest 2k by distance.
            var nearest = order[0], best = Float.infinity
            for j in order.prefix(2 * k) {
                let reach = max(distances[j].squareRoot(), core, coreDistances[j])
                if reach < best { best = reach; nearest = j }
            }
            let lambda = best > 0 ? 1 / Double(best) : .infinity
            // The neighbour's branch at that λ: climb while the branch was born after it.
            var cluster = pointParent[nearest]
            if pointLambda[nearest] > lambda {
                while let up = parentOf[cluster], (birth[cluster] ?? 0) > lambda { cluster = up }
            }
            while selected[cluster] == nil, let up = parentOf[cluster] { cluster = up }
            guard let label = selected[cluster], cluster != root || selectedClusters.contains(root) else { continue }
            labels[i] = label
            let death = deaths[cluster] ?? 0
            probabilities[i] = death > 0 && lambda.isFinite ? Float(min(lambda, death) / death) : 1
        }
        return (labels, probabilities)
    }
}
