import COpenBLAS
import KindredCore

/// Brute-force k-nearest-neighbour search through BLAS: the reference the tests measure HNSW
/// against, and the right tool for small collections. Scores come from sgemm over blocks of
/// queries × base rows, so memory stays bounded at any n.
public enum ExactSearch {
    /// For each query row, the `k` nearest base rows, nearest first; labels are base row numbers.
    public static func search(base: Matrix, queries: Matrix, k: Int, metric: Metric) throws(IndexError) -> [[Neighbor]]
    {
        guard queries.columns == base.columns else {
            throw .dimensionMismatch(expected: base.columns, got: queries.columns)
        }
        guard k >= 1 else {
            throw .invalidParameter(name: "k", value: "\(k)", requirement: "ask for at least one neighbour")
        }
        let d = base.columns
        let b = metric == .cosine ? normalised(base) : base
        let q = metric == .cosine ? normalised(queries) : queries
        let baseNorms = metric == .l2 ? squaredNorms(b) : []
        let queryBlock = 256, baseBlock = 8192
        var heaps = (0..<q.rows).map { _ in CandidateHeap(maxOnTop: true, capacity: k + 1) }
        defer { for heap in heaps { heap.free() } }
        var scores = [Float](repeating: 0, count: queryBlock * baseBlock)
        b.storage.withUnsafeBufferPointer { bp in
            q.storage.withUnsafeBufferPointer { qp in
                for q0 in stride(from: 0, to: q.rows, by: queryBlock) {
                    let qn = min(queryBlock, q.rows - q0)
                    for b0 in stride(from: 0, to: b.rows, by: baseBlock) {
                        let bn = min(baseBlock, b.rows - b0)
                        // scores (qn × bn) = Q_block · B_blockᵀ
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(qn), Int32(bn), Int32(d), 1,
                            qp.baseAddress! + q0 * d, Int32(d), bp.baseAddress! + b0 * d, Int32(d), 0, &scores,
                            Int32(bn))
                        for i in 0..<qn {
                            for j in 0..<bn {
                                let dot = scores[i * bn + j]
                                let distance = metric == .cosine ? 1 - dot : baseNorms[b0 + j] - 2 * dot
                                if heaps[q0 + i].count < k {
                                    heaps[q0 + i].push(Candidate(distance: distance, id: UInt32(b0 + j)))
                                } else if distance < heaps[q0 + i].top.distance {
                                    heaps[q0 + i].pop()
                                    heaps[q0 + i].push(Candidate(distance: distance, id: UInt32(b0 + j)))
                                }
                            }
                        }
                    }
                }
            }
        }
        // For L2 the query's own squared norm shifts every distance equally; add it back.
        let queryNorms = metric == .l2 ? squaredNorms(q) : []
        return heaps.indices.map { i in
            heaps[i].drainAscending().map {
                Neighbor(
                    label: UInt64($0.id), distance: metric == .l2 ? max(0, $0.distance + queryNorms[i]) : $0.distance)
            }
        }
    }

    static func normalised(_ m: Matrix) -> Matrix {
        var out = m
        for r in 0..<m.rows {
            var norm: Float = 0
            for c in 0..<m.columns { norm += m.storage[r * m.columns + c] * m.storage[r * m.columns + c] }
            let scale = norm > 0 ? 1 / norm.squareRoot() : 0
            for c in 0..<m.columns { out.storage[r * m.columns + c] *= scale }
        }
        return out
    }

    static func squaredNorms(_ m: Matrix) -> [Float] {
        (0..<m.rows).map { r in
            (0..<m.columns).reduce(Float(0)) { $0 + m.storage[r * m.columns + $1] * m.storage[r * m.columns + $1] }
        }
    }
}
