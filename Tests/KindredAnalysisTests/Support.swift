import Foundation
import KindredAnalysis
import KindredCore

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func fixtureMatrix(_ name: String) throws -> Matrix { try Npy.readMatrix(fixtures.appendingPathComponent(name)) }
func fixtureLabels(_ name: String) throws -> [Int32] {
    try Npy.read(fixtures.appendingPathComponent(name), as: Int32.self).values
}

/// Gaussian blobs in `d` dimensions: `sizes[i]` points around centre i (centres `separation` apart on axes).
func blobs(sizes: [Int], d: Int, separation: Float, spread: Float = 1, seed: UInt64 = 1) -> (Matrix, [Int32]) {
    var random = SeededRandom(seed: seed)
    var values: [Float] = [], labels: [Int32] = []
    for (cluster, size) in sizes.enumerated() {
        for _ in 0..<size {
            for c in 0..<d {
                values.append((c == cluster % d ? separation * Float(1 + cluster / d) : 0) + spread * random.normal())
            }
            labels.append(Int32(cluster))
        }
    }
    return (Matrix(rows: labels.count, columns: d, storage: values), labels)
}

/// Adjusted Rand index (Hubert & Arabie 1985) between two labellings; noise (−1) is a label like any other.
func adjustedRand(_ a: [Int32], _ b: [Int32]) -> Double {
    precondition(a.count == b.count)
    var table: [Int64: Double] = [:], rows: [Int32: Double] = [:], columns: [Int32: Double] = [:]
    for (x, y) in zip(a, b) {
        table[Int64(x) << 32 | Int64(UInt32(bitPattern: y)), default: 0] += 1; rows[x, default: 0] += 1;
        columns[y, default: 0] += 1
    }
    func pairs(_ n: Double) -> Double { n * (n - 1) / 2 }
    let index = table.values.reduce(0) { $0 + pairs($1) }
    let rowPairs = rows.values.reduce(0) { $0 + pairs($1) }, columnPairs = columns.values.reduce(0) { $0 + pairs($1) }
    let expected = rowPairs * columnPairs / pairs(Double(a.count))
    let maximum = (rowPairs + columnPairs) / 2
    return maximum == expected ? 1 : (index - expected) / (maximum - expected)
}

/// Trustworthiness (Venna & Kaski 2001) of a low-dimensional layout against the original data,
/// with Euclidean distances in both, as scikit-learn computes it.
func trustworthiness(_ high: Matrix, _ low: Matrix, k: Int) -> Double {
    let n = high.rows
    func distances(_ m: Matrix, _ i: Int) -> [Float] {
        (0..<n).map { j in
            (0..<m.columns).reduce(Float(0)) {
                $0 + (m.storage[i * m.columns + $1] - m.storage[j * m.columns + $1])
                    * (m.storage[i * m.columns + $1] - m.storage[j * m.columns + $1])
            }
        }
    }
    var penalty = 0.0
    for i in 0..<n {
        let dh = distances(high, i), dl = distances(low, i)
        let rankHigh = Array((0..<n).filter { $0 != i }.sorted { (dh[$0], $0) < (dh[$1], $1) })
        var rank = [Int](repeating: 0, count: n)
        for (r, j) in rankHigh.enumerated() { rank[j] = r + 1 }
        let nearestLow = (0..<n).filter { $0 != i }.sorted { (dl[$0], $0) < (dl[$1], $1) }.prefix(k)
        for j in nearestLow where rank[j] > k { penalty += Double(rank[j] - k) }
    }
    return 1 - 2 / (Double(n) * Double(k) * (2 * Double(n) - 3 * Double(k) - 1)) * penalty
}

/// Exact k nearest fitted rows (Euclidean) of each query row, as a `NeighborGraph` whose indices
/// are rows of `fitted`.
enum ExactNeighbours {
    static func of(_ queries: Matrix, in fitted: Matrix, k: Int) throws -> NeighborGraph {
        var indices: [Int32] = [], distances: [Float] = []
        for q in 0..<queries.rows {
            let d = (0..<fitted.rows).map { r in
                (0..<fitted.columns).reduce(Float(0)) {
                    $0 + (queries.storage[q * fitted.columns + $1] - fitted.storage[r * fitted.columns + $1])
                        * (queries.storage[q * fitted.columns + $1] - fitted.storage[r * fitted.columns + $1])
                }.squareRoot()
            }
            let nearest = d.indices.sorted { d[$0] < d[$1] }.prefix(k)
            indices += nearest.map { Int32($0) }
            distances += nearest.map { d[$0] }
        }
        return NeighborGraph(count: queries.rows, k: k, indices: indices, distances: distances)
    }
}
