import COpenBLAS
import Foundation
import KindredCore

/// k-means (Lloyd's iterations) seeded by greedy k-means++ (Arthur & Vassilvitskii 2007, with
/// scikit-learn's 2 + ln k candidates per step), best of several restarts by inertia.
/// Assignments are one sgemm per iteration (‖x‖² − 2 x·c + ‖c‖²).
public struct KMeans: Sendable {
    public let centroids: Matrix
    public let labels: [Int32]
    /// Sum of squared distances to the assigned centroid.
    public let inertia: Double
    public let iterations: Int

    public struct Options: Sendable {
        public var restarts = 3
        public var maxIterations = 300
        /// Stop when centroids move less than this, relative to the data's mean variance (as scikit-learn).
        public var tolerance = 1e-4
        public var seed: UInt64 = 0
        public init() {}
    }

    public static func fit(_ x: Matrix, k: Int, options: Options = Options()) throws(AnalysisError) -> KMeans {
        guard k >= 1 else { throw .invalidParameter(name: "k", value: "\(k)", requirement: "at least 1") }
        guard x.rows >= k else { throw .tooFewPoints(needed: k, got: x.rows, step: "k-means with k = \(k)") }
        try x.validateForAnalysis(step: "k-means")
        let norms = x.storage.withUnsafeBufferPointer {
            Distances.squaredNorms($0.baseAddress!, rows: x.rows, columns: x.columns)
        }
        let means = PCA.columnMeans(x)
        var variance = 0.0
        x.storage.withUnsafeBufferPointer { v in
            for r in 0..<x.rows {
                for c in 0..<x.columns { let e = Double(v[r * x.columns + c] - means[c]); variance += e * e }
            }
        }
        let tolerance = options.tolerance * variance / Double(x.rows * x.columns)
        var best: KMeans?
        var random = SeededRandom(seed: options.seed)
        for _ in 0..<max(1, options.restarts) {
            let seeds = plusPlus(x, norms: norms, k: k, random: &random)
            let run = lloyd(
                x, norms: norms, centroids: seeds, maxIterations: options.maxIterations, tolerance: tolerance)
            if best == nil || run.inertia < best!.inertia { best = run }
        }
        return best!
    }

    /// The nearest of `centroids` for each row of `x`: how items that arrive after a fit are placed.
    public static func nearest(_ x: Matrix, centroids: Matrix) -> [Int32] {
        precondition(x.columns == centroids.columns, "points and centroids in one space")
        let k = centroids.rows
        let distances = blockDistances(x, centres: centroids)
        return (0..<x.rows).map { i in
            var best = 0
            for j in 1..<max(1, k) where distances[i * k + j] < distances[i * k + best] { best = j }
            return Int32(best)
        }
    }

    /// Greedy k-means++: each new centre is the best (by resulting potential) of a few candidates
    /// drawn with probability proportional to the squared distance to the nearest centre so far.
    static func plusPlus(_ x: Matrix, norms: [Float], k: Int, random: inout SeededRandom) -> Matrix {
        let n = x.rows, d = x.columns
        var centres = Matrix(rows: k, columns: d)
        let first = random.below(n)
        x.withRow(first) { for c in 0..<d { centres.storage[c] = $0[c] } }
        var closest = distancesTo(x, norms: norms, rows: [first])[0]
        var potential = closest.reduce(0.0) { $0 + Double($1) }
        let trials = 2 + Int(log(Double(k)))
        for centre in 1..<k {
            var candidates: [Int] = []
            for _ in 0..<trials {
                var target = Double(random.unit()) * potential
                var chosen = n - 1
                for i in 0..<n {
                    target -= Double(closest[i])
                    if target <= 0 { chosen = i; break }
                }
                candidates.append(chosen)
            }
            let candidateDistances = distancesTo(x, norms: norms, rows: candidates)
            var bestTrial = 0, bestPotential = Double.infinity
            var bestClosest = closest
            for (t, distances) in candidateDistances.enumerated() {
                var updated = closest
                var sum = 0.0
                for i in 0..<n { updated[i] = min(updated[i], distances[i]); sum += Double(updated[i]) }
                if sum < bestPotential { bestPotential = sum; bestTrial = t; bestClosest = updated }
            }
            closest = bestClosest
            potential = bestPotential
            x.withRow(candidates[bestTrial]) { for c in 0..<d { centres.storage[centre * d + c] = $0[c] } }
        }
        return centres
    }

    /// Squared distances from every point to each of `rows`.
    static func distancesTo(_ x: Matrix, norms: [Float], rows: [Int]) -> [[Float]] {
        let block = blockDistances(x, centres: x.gathering(rows: rows))
        return (0..<rows.count).map { j in (0..<x.rows).map { block[$0 * rows.count + j] } }
    }

    /// n × k squared distances, straight from the coordinates: with few centres (k-means' k, or
    /// k-means++'s handful of candidates) sgemm spends its time packing the n × d operand and
    /// its idle threads spin; one SIMD pass over the rows, the centres held in cache, does the
    /// same arithmetic without either, on all threads.
    static func blockDistances(_ x: Matrix, centres: Matrix) -> [Float] {
        let n = x.rows, k = centres.rows, d = x.columns
        var out = [Float](repeating: 0, count: n * k)
        let lanes = d / 8 * 8
        x.storage.withUnsafeBufferPointer { points in
            centres.storage.withUnsafeBufferPointer { centre in
                out.withUnsafeMutableBufferPointer { result in
                    let shared = UnsafeSendableBox((points.baseAddress!, centre.baseAddress!, result.baseAddress!))
                    let blocks = (n + 1023) / 1024
                    performDealt(items: blocks, workers: ProcessInfo.processInfo.activeProcessorCount) { block in
                        let (p, c, o) = shared.value
                        for i in (block * 1024)..<min(n, (block + 1) * 1024) {
                            let row = p + i * d
                            for j in 0..<k {
                                let other = c + j * d
                                var sum = SIMD8<Float>()
                                var t = 0
                                while t < lanes {
                                    let delta =
                                        SIMD8<Float>(UnsafeBufferPointer(start: row + t, count: 8))
                                        - SIMD8<Float>(UnsafeBufferPointer(start: other + t, count: 8))
                                    sum += delta * delta
                                    t += 8
                                }
                                var total = sum.sum()
                                while t < d { let delta = row[t] - other[t]; total += delta * delta; t += 1 }
                                o[i * k + j] = total
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    static func lloyd(
        _ x: Matrix, norms: [Float], centroids start: Matrix, maxIterations: Int, tolerance: Double
    ) -> KMeans {
        let n = x.rows, d = x.columns, k = start.rows
        var centroids = start
        var labels = [Int32](repeating: 0, count: n)
        var inertia = 0.0
        var iteration = 0
        while iteration < maxIterations {
            iteration += 1
            let distances = blockDistances(x, centres: centroids)
            inertia = 0
            var farthest = (row: 0, distance: Float(-1))
            for i in 0..<n {
                var best = 0, bestDistance = Float.infinity
                for j in 0..<k where distances[i * k + j] < bestDistance {
                    bestDistance = distances[i * k + j]; best = j
                }
                labels[i] = Int32(best)
                inertia += Double(bestDistance)
                if bestDistance > farthest.distance { farthest = (i, bestDistance) }
            }
            var sums = [Double](repeating: 0, count: k * d), counts = [Int](repeating: 0, count: k)
            x.storage.withUnsafeBufferPointer { v in
                for i in 0..<n {
                    let j = Int(labels[i])
                    counts[j] += 1
                    for c in 0..<d { sums[j * d + c] += Double(v[i * d + c]) }
                }
            }
            var shift = 0.0
            for j in 0..<k {
                var updated = [Float](repeating: 0, count: d)
                if counts[j] == 0 {
                    // An empty cluster takes the point farthest from its centre, as scikit-learn does.
                    x.withRow(farthest.row) { for c in 0..<d { updated[c] = $0[c] } }
                } else {
                    for c in 0..<d { updated[c] = Float(sums[j * d + c] / Double(counts[j])) }
                }
                for c in 0..<d {
                    let delta = Double(updated[c] - centroids.storage[j * d + c])
                    shift += delta * delta
                    centroids.storage[j * d + c] = updated[c]
                }
            }
            if shift <= tolerance { break }
        }
        // Labels and inertia for the final centroids.
        let distances = blockDistances(x, centres: centroids)
        inertia = 0
        for i in 0..<n {
            var best = 0, bestDistance = Float.infinity
            for j in 0..<k where distances[i * k + j] < bestDistance { bestDistance = distances[i * k + j]; best = j }
            labels[i] = Int32(best)
            inertia += Double(bestDistance)
        }
        return KMeans(centroids: centroids, labels: labels, inertia: inertia, iterations: iteration)
    }
}

/// k chosen over a range by silhouette (noise-free, sampled for large n), with inertia kept so
/// the elbow can be read off too.
public struct KSelection: Sendable {
    /// "k" or "lo..hi" (2 ≤ lo ≤ hi), as the configuration and `kindred analyze kmeans --k` write
    /// it; nil for anything else.
    public static func range(parsing text: String) -> ClosedRange<Int>? {
        let parts = text.components(separatedBy: "..").map { Int($0) }
        if parts.count == 1, let k = parts[0], k >= 2 { return k...k }
        if parts.count == 2, let lo = parts[0], let hi = parts[1], lo >= 2, lo <= hi { return lo...hi }
        return nil
    }

    public struct Candidate: Sendable {
        public let k: Int
        public let silhouette: Double
        public let inertia: Double
    }

    public let candidates: [Candidate]
    public let best: KMeans
    public var bestK: Int { best.centroids.rows }

    public static func choose(
        _ x: Matrix, ks: ClosedRange<Int>, options: KMeans.Options = KMeans.Options(),
        silhouetteSample: Int = 10_000
    ) throws(AnalysisError) -> KSelection {
        guard ks.lowerBound >= 2 else {
            throw .invalidParameter(
                name: "k", value: "\(ks.lowerBound)..\(ks.upperBound)", requirement: "silhouette needs k ≥ 2")
        }
        var candidates: [Candidate] = []
        var best: (score: Double, fit: KMeans)?
        for k in ks where k <= x.rows - 1 {
            let fit = try KMeans.fit(x, k: k, options: options)
            let score = try ClusterMetrics.compute(
                x, labels: fit.labels, sampleLimit: silhouetteSample, seed: options.seed
            ).silhouette
            candidates.append(Candidate(k: k, silhouette: score, inertia: fit.inertia))
            if best == nil || score > best!.score { best = (score, fit) }
        }
        guard let best else { throw .tooFewPoints(needed: ks.lowerBound + 1, got: x.rows, step: "k selection") }
        return KSelection(candidates: candidates, best: best.fit)
    }
}
