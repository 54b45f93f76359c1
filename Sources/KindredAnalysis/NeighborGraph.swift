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
        return try build(
            x, fitting: Array(0..<x.rows), k: k, metric: metric, exactLimit: exactLimit, threads: threads,
            logger: logger
        ).fittedGraph
    }
}

/// The graphs of a UMAP fitted on a sample of the points, the others then placed by `transform`
/// (umap-learn's advice for data too large to fit whole): the sample's own neighbour graph, and
/// each other point's neighbours among the sample.
public struct SampledNeighborGraphs: Sendable {
    /// The rows of the data the layout is fitted on, ascending.
    public let fitted: [Int]
    /// Every other row, ascending.
    public let placed: [Int]
    /// The fitted rows' graph; its indices are positions in `fitted`.
    public let fittedGraph: NeighborGraph
    /// Each placed row's nearest fitted rows; its indices are positions in `fitted`.
    public let placedGraph: NeighborGraph

    /// All the rows, fitted and placed.
    public var count: Int { fitted.count + placed.count }
}

extension NeighborGraph {
    /// `count` distinct rows of `0..<rows`, drawn by a seeded generator (a partial Fisher–Yates
    /// shuffle), ascending.
    public static func sampleRows(_ rows: Int, count: Int, seed: UInt64) -> [Int] {
        guard count < rows else { return Array(0..<rows) }
        var order = Array(0..<rows), random = SeededRandom(seed: seed)
        for i in 0..<count { order.swapAt(i, i + random.below(rows - i)) }
        return order.prefix(count).sorted()
    }

    /// The graphs for a layout fitted on `fitted` rows of `x`: one index over those rows (exact up
    /// to `exactLimit` of them, HNSW above), searched once by every row. Fitting every row gives
    /// the whole data's graph (`build(_:k:…)`), with nothing placed.
    public static func build(
        _ x: Matrix, fitting fitted: [Int], k: Int, metric: Metric, exactLimit: Int = 20_000,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        logger: Logger = Logger(label: "kindred.analysis")
    ) throws(AnalysisError) -> SampledNeighborGraphs {
        guard fitted.count > k else {
            throw .tooFewPoints(needed: k + 1, got: fitted.count, step: "a \(k)-neighbour graph")
        }
        guard let last = fitted.last, last < x.rows, zip(fitted, fitted.dropFirst()).allSatisfy({ $0 < $1 }),
            fitted[0] >= 0
        else {
            throw .invalidParameter(
                name: "sample", value: "\(fitted.count) rows", requirement: "distinct ascending rows of the data")
        }
        // Each row's place: a fitted row's position in `fitted` (≥ 0), or −1 − its position in `placed`.
        var places = [Int32](repeating: -1, count: x.rows)
        for (position, row) in fitted.enumerated() { places[row] = Int32(position) }
        var placed: [Int] = []
        placed.reserveCapacity(x.rows - fitted.count)
        for row in 0..<x.rows where places[row] < 0 {
            places[row] = -1 - Int32(placed.count)
            placed.append(row)
        }
        let place = places
        let sample = fitted.count == x.rows ? x : x.gathering(rows: fitted)
        // Row-major k columns for every row of the data, fitted and placed alike, split at the end.
        var indices = [Int32](repeating: 0, count: x.rows * k), distances = [Float](repeating: 0, count: x.rows * k)
        do {
            try indices.withUnsafeMutableBufferPointer { indexBuffer in
                try distances.withUnsafeMutableBufferPointer { distanceBuffer in
                    let out = UnsafeSendableBox((indexBuffer.baseAddress!, distanceBuffer.baseAddress!))
                    /// Writes a row's neighbours (labels are positions in `fitted`), a fitted row's
                    /// own position left out.
                    let store: @Sendable (Int, [Neighbor]) -> Void = { row, neighbours in
                        let own = place[row] >= 0 ? UInt64(place[row]) : nil
                        var j = 0
                        for neighbour in neighbours where neighbour.label != own && j < k {
                            out.value.0[row * k + j] = Int32(neighbour.label)
                            out.value.1[row * k + j] =
                                metric == .l2 ? neighbour.distance.squareRoot() : max(0, neighbour.distance)
                            j += 1
                        }
                        // A search that found fewer repeats its farthest, as the daemon's graph does.
                        while j < k, j > 0 {
                            out.value.0[row * k + j] = out.value.0[row * k + j - 1]
                            out.value.1[row * k + j] = out.value.1[row * k + j - 1]
                            j += 1
                        }
                    }
                    if fitted.count <= exactLimit {
                        let found = try ExactSearch.search(base: sample, queries: x, k: k + 1, metric: metric)
                        for (row, neighbours) in found.enumerated() { store(row, neighbours) }
                        return
                    }
                    let index = try HNSWIndex.build(sample, metric: metric, threads: threads, logger: logger)
                    let failure = Mutex<String?>(nil)
                    performDealt(items: x.rows, workers: threads) { row in
                        do throws(IndexError) {
                            store(row, try index.search(x.row(row), k: k + 1, ef: max(4 * k, 64)))
                        } catch {
                            failure.withLock { $0 = "\(error)" }
                        }
                    }
                    if let reason = failure.withLock({ $0 }) {
                        throw AnalysisError.numerical(step: "neighbour graph", reason: reason)
                    }
                }
            }
        } catch let error as AnalysisError {
            throw error
        } catch {
            throw .numerical(step: "neighbour graph", reason: "\(error)")
        }
        func rows(_ rows: [Int]) -> NeighborGraph {
            var i = [Int32](), d = [Float]()
            i.reserveCapacity(rows.count * k)
            d.reserveCapacity(rows.count * k)
            for row in rows {
                i += indices[(row * k)..<((row + 1) * k)]
                d += distances[(row * k)..<((row + 1) * k)]
            }
            return NeighborGraph(count: rows.count, k: k, indices: i, distances: d)
        }
        return SampledNeighborGraphs(
            fitted: fitted, placed: placed,
            fittedGraph: rows(fitted), placedGraph: rows(placed))
    }
}
