import Foundation
import KindredCore
import KindredIndex
import Logging
import Synchronization

/// The k nearest neighbours of every point (itself excluded), nearest first: what UMAP's fuzzy
/// simplicial set is built from. Offline it is exact for small n and comes from an HNSW index
/// otherwise; the daemon passes in the graph its live index already answers.
public struct NeighborGraph: Sendable {
    public let count: Int
    public let k: Int
    /// count × k, row-major.
    public var indices: [Int32]
    public var distances: [Float]

    public init(count: Int, k: Int, indices: [Int32], distances: [Float]) {
        precondition(indices.count == count * k && distances.count == count * k)
        self.count = count
        self.k = k
        self.indices = indices
        self.distances = distances
    }

    /// Exact up to `exactLimit` points (blocked sgemm), HNSW beyond (M = 16, efConstruction = 200,
    /// ef = max(4k, 64): recall well above 0.95 on embedding-like data).
    public static func build(
        _ x: Matrix, k: Int, metric: Metric, exactLimit: Int = 20_000,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        logger: Logger = Logger(label: "kindred.analysis")
    ) throws(AnalysisError) -> NeighborGraph {
        guard x.rows > k else { throw .tooFewPoints(needed: k + 1, got: x.rows, step: "a \(k)-neighbour graph") }
        var indices = [Int32](repeating: 0, count: x.rows * k), distances = [Float](repeating: 0, count: x.rows * k)
        func store(_ row: Int, _ neighbours: [Neighbor]) {
            let others = neighbours.filter { $0.label != UInt64(row) }.prefix(k)
            for (j, neighbour) in others.enumerated() {
                indices[row * k + j] = Int32(neighbour.label)
                // Cosine distances from unit vectors can dip a hair below 0; the L2 search gives squares.
                distances[row * k + j] = metric == .l2 ? neighbour.distance.squareRoot() : max(0, neighbour.distance)
            }
        }
        do {
            if x.rows <= exactLimit {
                for (row, neighbours) in try ExactSearch.search(base: x, queries: x, k: k + 1, metric: metric)
                    .enumerated()
                { store(row, neighbours) }
            } else {
                let index = try HNSWIndex.build(x, metric: metric, threads: threads, logger: logger)
                let results = Mutex<[Int: [Neighbor]]>([:])
                let failure = Mutex<String?>(nil)
                performDealt(items: x.rows, workers: threads) { row in
                    do throws(IndexError) {
                        let found = try index.search(x.row(row), k: k + 1, ef: max(4 * k, 64))
                        results.withLock { $0[row] = found }
                    } catch {
                        failure.withLock { $0 = "\(error)" }
                    }
                }
                if let reason = failure.withLock({ $0 }) {
                    throw AnalysisError.numerical(step: "neighbour graph", reason: reason)
                }
                for (row, neighbours) in results.withLock({ $0 }) { store(row, neighbours) }
            }
        } catch let error as AnalysisError {
            throw error
        } catch {
            throw .numerical(step: "neighbour graph", reason: "\(error)")
        }
        return NeighborGraph(count: x.rows, k: k, indices: indices, distances: distances)
    }
}
