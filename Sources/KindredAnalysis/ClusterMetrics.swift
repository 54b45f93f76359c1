import KindredCore

/// How well a labelling separates the points: silhouette (mean and per cluster) and
/// Davies–Bouldin, both with noise (label −1) excluded, as the clustering studies report them.
public struct ClusterMetrics: Sendable, Equatable {
    /// Mean silhouette over the scored points, in [−1, 1]; higher is better.
    public var silhouette: Double
    /// Mean silhouette of each cluster's scored points, by label.
    public var silhouetteByCluster: [Int: Double]
    /// Each scored point's silhouette, with its row and label, for the knife plot.
    public var samples: [(row: Int, label: Int, value: Double)]
    /// Davies–Bouldin index over all non-noise points; lower is better.
    public var daviesBouldin: Double
    /// How many points the silhouette was computed on (a uniform sample for large n), and how many
    /// non-noise points there were.
    public var sampleSize: Int
    public var clusteredPoints: Int

    public static func == (a: ClusterMetrics, b: ClusterMetrics) -> Bool {
        a.silhouette == b.silhouette && a.silhouetteByCluster == b.silhouetteByCluster
            && a.daviesBouldin == b.daviesBouldin
            && a.sampleSize == b.sampleSize && a.clusteredPoints == b.clusteredPoints
    }

    /// Scores `labels` (one per row of `x`; −1 is noise). The silhouette of more than
    /// `sampleLimit` non-noise points is computed on a seeded uniform sample of that size, as
    /// scikit-learn's `silhouette_score(sample_size=…)` does; Davies–Bouldin uses every point.
    public static func compute(
        _ x: Matrix, labels: [Int32], sampleLimit: Int = 10_000, seed: UInt64 = 0
    ) throws(AnalysisError) -> ClusterMetrics {
        precondition(labels.count == x.rows, "one label per row")
        let clustered = (0..<x.rows).filter { labels[$0] >= 0 }
        let clusterCount = Set(clustered.map { labels[$0] }).count
        guard clusterCount >= 2 else {
            throw .invalidParameter(
                name: "labels", value: "\(clusterCount) cluster\(clusterCount == 1 ? "" : "s")",
                requirement: "silhouette needs at least 2 clusters")
        }
        var rows = clustered
        if rows.count > sampleLimit {
            var random = SeededRandom(seed: seed)
            rows.shuffle(using: &random)
            rows = Array(rows.prefix(sampleLimit)).sorted()
        }
        let samples = silhouettes(x, labels: labels, rows: rows)
        var byCluster: [Int: (sum: Double, count: Int)] = [:]
        for s in samples {
            byCluster[s.label, default: (0, 0)].sum += s.value; byCluster[s.label, default: (0, 0)].count += 1
        }
        return ClusterMetrics(
            silhouette: samples.reduce(0) { $0 + $1.value } / Double(samples.count),
            silhouetteByCluster: byCluster.mapValues { $0.sum / Double($0.count) },
            samples: samples, daviesBouldin: daviesBouldin(x, labels: labels, rows: clustered),
            sampleSize: rows.count, clusteredPoints: clustered.count)
    }

    /// s(i) = (b − a) / max(a, b): a is the mean distance to the rest of i's cluster, b the least
    /// mean distance to another cluster, both over `rows`. A point alone in its cluster scores 0.
    static func silhouettes(_ x: Matrix, labels: [Int32], rows: [Int]) -> [(row: Int, label: Int, value: Double)] {
        let d = x.columns, m = rows.count
        let clusterIDs = Array(Set(rows.map { Int(labels[$0]) })).sorted()
        let slot = Dictionary(uniqueKeysWithValues: clusterIDs.enumerated().map { ($1, $0) })
        let memberSlot = rows.map { slot[Int(labels[$0])]! }
        var sizes = [Int](repeating: 0, count: clusterIDs.count)
        for s in memberSlot { sizes[s] += 1 }
        var points = [Float](repeating: 0, count: m * d)
        for (i, row) in rows.enumerated() { x.withRow(row) { for c in 0..<d { points[i * d + c] = $0[c] } } }
        let norms = points.withUnsafeBufferPointer { Distances.squaredNorms($0.baseAddress!, rows: m, columns: d) }
        let block = 256
        var distances = [Float](repeating: 0, count: block * m)
        var result: [(row: Int, label: Int, value: Double)] = []
        result.reserveCapacity(m)
        var sums = [Double](repeating: 0, count: clusterIDs.count)
        for first in stride(from: 0, to: m, by: block) {
            let count = min(block, m - first)
            points.withUnsafeBufferPointer { p in
                norms.withUnsafeBufferPointer { nrm in
                    distances.withUnsafeMutableBufferPointer { out in
                        Distances.squared(
                            p.baseAddress! + first * d, nrm.baseAddress! + first, n: count, p.baseAddress!,
                            nrm.baseAddress!, m: m, columns: d,
                            into: out.baseAddress!)
                    }
                }
            }
            for i in 0..<count {
                for s in sums.indices { sums[s] = 0 }
                distances.withUnsafeBufferPointer { all in
                    let row = all.baseAddress! + i * m
                    for j in 0..<m { sums[memberSlot[j]] += Double(row[j].squareRoot()) }
                }
                let own = memberSlot[first + i]
                var value = 0.0
                if sizes[own] > 1 {
                    let a = sums[own] / Double(sizes[own] - 1)
                    var b = Double.infinity
                    for s in sums.indices where s != own && sizes[s] > 0 { b = min(b, sums[s] / Double(sizes[s])) }
                    value = max(a, b) > 0 ? (b - a) / max(a, b) : 0
                }
                result.append((rows[first + i], clusterIDs[own], value))
            }
        }
        return result
    }

    static func daviesBouldin(_ x: Matrix, labels: [Int32], rows: [Int]) -> Double {
        let d = x.columns
        var centroids: [Int: [Double]] = [:], counts: [Int: Int] = [:]
        for row in rows {
            let label = Int(labels[row])
            x.withRow(row) { values in
                var c = centroids[label] ?? [Double](repeating: 0, count: d)
                for j in 0..<d { c[j] += Double(values[j]) }
                centroids[label] = c
            }
            counts[label, default: 0] += 1
        }
        for (label, count) in counts { centroids[label] = centroids[label]!.map { $0 / Double(count) } }
        var scatter: [Int: Double] = [:]
        for row in rows {
            let label = Int(labels[row])
            let c = centroids[label]!
            let distance = x.withRow(row) { values in
                (0..<d).reduce(0.0) { $0 + (Double(values[$1]) - c[$1]) * (Double(values[$1]) - c[$1]) }.squareRoot()
            }
            scatter[label, default: 0] += distance
        }
        for (label, count) in counts { scatter[label]! /= Double(count) }
        let ids = counts.keys.sorted()
        var total = 0.0
        for i in ids {
            var worst = 0.0
            for j in ids where j != i {
                let separation = zip(centroids[i]!, centroids[j]!).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                    .squareRoot()
                worst = max(worst, separation > 0 ? (scatter[i]! + scatter[j]!) / separation : .infinity)
            }
            total += worst
        }
        return total / Double(ids.count)
    }
}
