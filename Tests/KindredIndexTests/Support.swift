import COpenBLAS
import Foundation
import KindredCore
import KindredIndex
import Logging

/// Clustered vectors: `clusters` Gaussian blobs, deterministic for a seed.
func clusteredVectors(n: Int, d: Int, clusters: Int = 40, spread: Float = 0.35, seed: UInt64 = 42) -> Matrix {
    var rng = SeededRandom(seed: seed)
    let centres = (0..<(clusters * d)).map { _ in rng.normal() }
    var storage = [Float](repeating: 0, count: n * d)
    for i in 0..<n {
        let c = Int(rng.next() % UInt64(clusters))
        for j in 0..<d { storage[i * d + j] = centres[c * d + j] + spread * rng.normal() }
    }
    return Matrix(rows: n, columns: d, storage: storage)
}

/// recall@k of `found` against `truth`, both lists of labels per query.
func recall(_ found: [[UInt64]], _ truth: [[UInt64]], k: Int) -> Double {
    var hits = 0
    for (f, t) in zip(found, truth) { hits += Set(f.prefix(k)).intersection(t.prefix(k)).count }
    return Double(hits) / Double(k * truth.count)
}

/// Vectors shaped like image embeddings, with exact ground truth: the referee's recipe
/// (../shared/bench/vectors.py, which the benchmarks use) made here, because CI has nothing beside
/// the checkout. Points lie near `centres` centres of Pareto-distributed sizes, each centre with
/// its own rank-24 spread, plus isotropic noise, then L2-normalised: clustered and anisotropic
/// like CNN features. The last `queries` rows are the queries; `truth` is their exact cosine
/// top 10 through BLAS (the test checks that against a scalar loop).
func embeddingLikeVectors(
    n: Int, d: Int, queries: Int, centres: Int = 2000, rank: Int = 24,
    seed: UInt64 = 7
) throws -> (base: Matrix, queries: Matrix, truth: [[UInt64]]) {
    var rng = SeededRandom(seed: seed)
    let total = n + queries
    let centre = (0..<(centres * d)).map { _ in rng.normal() }
    let scale = 1 / Float(d).squareRoot()
    let basis = (0..<(centres * rank * d)).map { _ in rng.normal() * scale }  // centres × rank × d
    // Pareto(1.5) weights: a few large clusters and a long tail of small ones.
    var cumulative = (0..<centres).map { _ in pow(1 - rng.unit(), -1 / Float(1.5)) }
    for c in 1..<centres { cumulative[c] += cumulative[c - 1] }
    let spread = (0..<centres).map { _ in 0.3 + 1.2 * rng.unit() }

    var storage = [Float](repeating: 0, count: total * d)
    var coefficients = [Float](repeating: 0, count: rank)
    storage.withUnsafeMutableBufferPointer { x in
        basis.withUnsafeBufferPointer { basis in
            for i in 0..<total {
                let target = rng.unit() * cumulative[centres - 1]
                var lo = 0, hi = centres - 1  // the first centre whose cumulative weight exceeds target
                while lo < hi {
                    let mid = (lo + hi) / 2; if cumulative[mid] > target { hi = mid } else { lo = mid + 1 }
                }
                let c = lo
                for r in 0..<rank { coefficients[r] = 2 * spread[c] * rng.normal() }
                let row = x.baseAddress! + i * d
                for j in 0..<d { row[j] = centre[c * d + j] + rng.normal() }
                // row += coefficientsᵀ · basis[c], the centre's own low-rank spread.
                cblas_sgemv(
                    CblasRowMajor, CblasTrans, Int32(rank), Int32(d), 1, basis.baseAddress! + c * rank * d, Int32(d),
                    coefficients, 1, 1, row, 1)
            }
        }
    }
    normalizeRows(&storage, dimension: d)
    let base = Matrix(rows: n, columns: d, storage: Array(storage[0..<(n * d)]))
    let query = Matrix(rows: queries, columns: d, storage: Array(storage[(n * d)...]))
    let truth = try ExactSearch.search(base: base, queries: query, k: 10, metric: .cosine).map { $0.map(\.label) }
    return (base, query, truth)
}

/// The `k` rows of `base` with the largest inner product with `query`, by a plain loop in Double:
/// an oracle for `ExactSearch` that shares none of its code.
func scalarTopK(_ base: Matrix, _ query: [Float], k: Int) -> [UInt64] {
    let scores = base.storage.withUnsafeBufferPointer { b in
        (0..<base.rows).map { row in
            var dot = 0.0
            for j in 0..<base.columns { dot += Double(b[row * base.columns + j]) * Double(query[j]) }
            return dot
        }
    }
    return scores.indices.sorted { scores[$0] > scores[$1] }.prefix(k).map { UInt64($0) }
}
