import COpenBLAS
import Foundation
import KindredCore
import KindredIndex

/// UMAP (McInnes, Healy & Melville 2018), following umap-learn's choices so results are
/// comparable: the fuzzy simplicial set from a k-neighbour graph (σ by binary search to log₂ k,
/// ρ the nearest distance, fuzzy union), a spectral initialisation (random when the graph is
/// disconnected), then SGD with negative sampling for 500 epochs up to 10,000 points, else 200.
/// a and b are fitted to min_dist and spread as umap-learn does. The SGD is parallel without data
/// races (see `optimise`), so a fixed seed and thread count give the same layout from the same
/// neighbour graph.
public struct UMAP: Sendable {
    public let embedding: Matrix
    public let a: Float, b: Float
    public let epochs: Int
    /// How the layout was started: "spectral" or "random" (disconnected graph).
    public let initialisation: String
    /// The options it was fitted with, for `transform`.
    public var options = Options()

    public struct Options: Sendable {
        public var neighbors = 15
        public var minDist: Float = 0.1
        public var spread: Float = 1
        public var dimensions = 2
        public var metric = Metric.cosine
        public var epochs: Int?
        public var learningRate: Float = 1
        public var negativeSampleRate = 5
        public var repulsionStrength: Float = 1
        public var seed: UInt64 = 0
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        /// Told the fraction of the optimisation's epochs done, after each (a refit's progress).
        public var progress: (@Sendable (Double) -> Void)?
        /// Asked before each epoch; true ends the fit with `AnalysisError.cancelled` (a daemon
        /// stopping does not wait out the optimisation).
        public var shouldStop: (@Sendable () -> Bool)?
        public init() {}
    }

    public static func fit(_ x: Matrix, options: Options = Options()) throws(AnalysisError) -> UMAP {
        try validate(options)
        try x.validateForAnalysis(step: "UMAP")
        guard x.rows > options.neighbors else {
            throw .invalidParameter(
                name: "neighbors", value: "\(options.neighbors)",
                requirement: "it must be below the number of points (\(x.rows)); lower --neighbors or add data")
        }
        // umap-learn counts the point itself among its n_neighbors.
        let graph = try NeighborGraph.build(
            x, k: options.neighbors - 1, metric: options.metric, threads: options.threads)
        return try fit(graph: graph, options: options)
    }

    /// From a neighbour graph built elsewhere (the daemon's HNSW index).
    public static func fit(graph: NeighborGraph, options: Options = Options()) throws(AnalysisError) -> UMAP {
        try validate(options)
        let n = graph.count
        guard n > options.dimensions + 1 else {
            throw .tooFewPoints(needed: options.dimensions + 2, got: n, step: "UMAP")
        }
        let fuzzy = FuzzySet(graph)
        let epochs = options.epochs ?? (n <= 10_000 ? 500 : 200)
        var random = SeededRandom(seed: options.seed)
        var (layout, initialisation) = spectralLayout(fuzzy, dimensions: options.dimensions, random: &random)
        let (a, b) = fitCurve(minDist: options.minDist, spread: options.spread)
        try optimise(
            &layout, fuzzy, n: n, dimensions: options.dimensions, epochs: epochs, a: a, b: b, options: options,
            random: &random)
        return UMAP(
            embedding: Matrix(rows: n, columns: options.dimensions, storage: layout), a: a, b: b, epochs: epochs,
            initialisation: initialisation,
            options: options)
    }

    /// Checks the options as every fit does, for a caller that builds its graph first.
    public static func validate(_ options: Options) throws(AnalysisError) {
        guard (2...200).contains(options.neighbors) else {
            throw .invalidParameter(
                name: "neighbors", value: "\(options.neighbors)",
                requirement: "2 to 200; 10 to 15 suits most collections")
        }
        guard options.minDist >= 0, options.minDist <= options.spread else {
            throw .invalidParameter(
                name: "min-dist", value: "\(options.minDist)", requirement: "0 to spread (\(options.spread))")
        }
        guard (1...16).contains(options.dimensions) else {
            throw .invalidParameter(name: "dims", value: "\(options.dimensions)", requirement: "1 to 16")
        }
        if let epochs = options.epochs, epochs < 1 {
            throw .invalidParameter(name: "epochs", value: "\(epochs)", requirement: "at least 1")
        }
        guard (0...100).contains(options.negativeSampleRate) else {
            throw .invalidParameter(
                name: "negative-sample-rate", value: "\(options.negativeSampleRate)", requirement: "0 to 100")
        }
        guard options.learningRate > 0, options.learningRate <= 100 else {
            throw .invalidParameter(
                name: "learning-rate", value: "\(options.learningRate)", requirement: "above 0, at most 100")
        }
        guard options.repulsionStrength.isFinite, options.repulsionStrength >= 0 else {
            throw .invalidParameter(
                name: "repulsion-strength", value: "\(options.repulsionStrength)", requirement: "finite, 0 or more")
        }
    }

    /// Fits on a sample's graph and places every other point with `transform`, the way to lay out
    /// more points than a fit can afford (umap-learn's advice for large data). The embedding holds
    /// every point, in the data's row order, so it places later points against all of them.
    public static func fit(
        sampled graphs: SampledNeighborGraphs, options: Options = Options()
    ) throws(AnalysisError)
        -> UMAP
    {
        var fitting = options
        // The fit is most of the work; the placement of the rest reports the last tenth.
        fitting.progress = options.progress.map { report in { @Sendable done in report(0.9 * done) } }
        let fitted = try fit(graph: graphs.fittedGraph, options: fitting)
        let placed = fitted.transform(graph: graphs.placedGraph)
        let dimensions = options.dimensions
        var storage = [Float](repeating: 0, count: graphs.count * dimensions)
        for (rows, source) in [(graphs.fitted, fitted.embedding), (graphs.placed, placed)] {
            for (position, row) in rows.enumerated() {
                for d in 0..<dimensions { storage[row * dimensions + d] = source.storage[position * dimensions + d] }
            }
        }
        options.progress?(1)
        return UMAP(
            embedding: Matrix(rows: graphs.count, columns: dimensions, storage: storage), a: fitted.a, b: fitted.b,
            epochs: fitted.epochs, initialisation: fitted.initialisation, options: options)
    }

    /// Places new points in this layout without refitting (umap-learn's `transform`): each new
    /// point's memberships to its neighbours among the fitted points (`graph.indices` are rows of
    /// the fitted data) are computed as in the fit, it starts at their membership-weighted mean
    /// position, then a short optimisation (100 epochs, 30 above 10,000 fitted points, at a quarter
    /// of the learning rate) moves only the new points, against fixed fitted ones.
    ///
    /// The new points never move each other, so they are placed in blocks of `transformBlock`, in
    /// parallel, each block with its own seeded generator: the same result on any thread count.
    public func transform(graph: NeighborGraph) -> Matrix {
        let dimensions = embedding.columns, m = graph.count, k = graph.k, fitted = embedding.rows
        let memberships = FuzzySet.memberships(graph)
        let epochs = fitted <= 10_000 ? 100 : 30
        let maxWeight = memberships.max() ?? 1
        let (a, b, options) = (a, b, options)
        var placed = [Float](repeating: 0, count: m * dimensions)
        let blocks = (m + Self.transformBlock - 1) / Self.transformBlock
        placed.withUnsafeMutableBufferPointer { output in
            embedding.storage.withUnsafeBufferPointer { fixedBuffer in
                let pointers = UnsafeSendableBox((output.baseAddress, fixedBuffer.baseAddress!))
                performDealt(items: blocks, workers: options.threads) { block in
                    guard let placed = pointers.value.0 else { return }
                    let fixed = pointers.value.1
                    let rows = (block * Self.transformBlock)..<min(m, (block + 1) * Self.transformBlock)
                    for i in rows {
                        let row = (i * k)..<((i + 1) * k)
                        let total = row.reduce(Float(0)) { $0 + memberships[$1] }
                        for j in row {
                            let neighbour = Int(graph.indices[j])
                            let weight = total > 0 ? memberships[j] / total : 1 / Float(k)
                            for d in 0..<dimensions {
                                placed[i * dimensions + d] += weight * fixed[neighbour * dimensions + d]
                            }
                        }
                    }
                    var random = SeededRandom(seed: options.seed &+ 0x5EED &+ UInt64(block) &* 0x9E37_79B9_7F4A_7C15)
                    for epoch in 0..<epochs {
                        let alpha = options.learningRate / 4 * (1 - Float(epoch) / Float(epochs))
                        for i in rows {
                            let point = placed + i * dimensions
                            for j in (i * k)..<((i + 1) * k) where memberships[j] >= maxWeight / Float(epochs) {
                                // Sampled in proportion to the membership, as in the fit.
                                guard random.unit() < memberships[j] / maxWeight else { continue }
                                let other = fixed + Int(graph.indices[j]) * dimensions
                                var distance: Float = 0
                                for d in 0..<dimensions {
                                    let delta = point[d] - other[d]; distance += delta * delta
                                }
                                let power = distance > 0 ? powf(distance, b) : 0
                                let attraction = distance > 0 ? -2 * a * b * (power / distance) / (a * power + 1) : 0
                                for d in 0..<dimensions {
                                    point[d] += min(4, max(-4, attraction * (point[d] - other[d]))) * alpha
                                }
                                for _ in 0..<options.negativeSampleRate {
                                    let negative = fixed + random.below(fitted) * dimensions
                                    distance = 0
                                    for d in 0..<dimensions {
                                        let delta = point[d] - negative[d]; distance += delta * delta
                                    }
                                    let repulsion =
                                        distance > 0
                                        ? 2 * options.repulsionStrength * b
                                            / ((0.001 + distance) * (a * powf(distance, b) + 1)) : 0
                                    for d in 0..<dimensions {
                                        let g =
                                            repulsion > 0 ? min(4, max(-4, repulsion * (point[d] - negative[d]))) : 4
                                        point[d] += g * alpha
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Matrix(rows: m, columns: dimensions, storage: placed)
    }

    /// New points a `transform` worker places at a time.
    static let transformBlock = 1024

    // MARK: The fuzzy simplicial set

    /// The symmetric fuzzy graph as directed edges (both directions of every pair), with weights.
    struct FuzzySet {
        var heads: [Int32] = [], tails: [Int32] = [], weights: [Float] = []

        /// Each neighbour's membership strength, exp(−(d − ρ)/σ), row by row as in `graph`; σ by
        /// bisection so a row sums to log₂(k + 1) (umap-learn's smooth_knn_dist; the point itself
        /// counts among its k + 1 neighbours, at distance 0).
        static func memberships(_ graph: NeighborGraph) -> [Float] {
            let n = graph.count, k = graph.k
            let target = log2(Float(k + 1))
            let meanDistance = graph.distances.reduce(0, +) / Float(max(1, graph.distances.count))
            var result = [Float](repeating: 0, count: n * k)
            for i in 0..<n {
                let row = graph.distances[(i * k)..<((i + 1) * k)]
                let rho = row.first { $0 > 0 } ?? 0
                var lo: Float = 0, hi = Float.infinity, mid: Float = 1
                for _ in 0..<64 {
                    var sum: Float = 0
                    for d in row { let e = d - rho; sum += e > 0 ? expf(-e / mid) : 1 }
                    if abs(sum - target) < 1e-5 { break }
                    if sum > target {
                        hi = mid; mid = (lo + hi) / 2
                    } else {
                        lo = mid; mid = hi.isInfinite ? mid * 2 : (lo + hi) / 2
                    }
                }
                let localMean = row.reduce(0, +) / Float(k + 1)
                let sigma = max(mid, 1e-3 * (rho > 0 ? localMean : meanDistance))
                for j in 0..<k {
                    let e = row[row.startIndex + j] - rho
                    result[i * k + j] = e <= 0 ? 1 : expf(-e / sigma)
                }
            }
            return result
        }

        init(_ graph: NeighborGraph) {
            let n = graph.count, k = graph.k
            let strengths = Self.memberships(graph)
            var directed: [(Int64, Float)] = []
            directed.reserveCapacity(n * k)
            for i in 0..<n {
                for j in 0..<k {
                    let neighbour = Int(graph.indices[i * k + j])
                    guard neighbour != i else { continue }
                    directed.append((Int64(i) << 32 | Int64(neighbour), strengths[i * k + j]))
                }
            }
            // Fuzzy union: w = a + b − a·b over the two directions of each pair.
            var pairs: [Int64: Float] = [:]
            pairs.reserveCapacity(directed.count * 2)
            for (key, w) in directed { pairs[key] = w }
            var symmetric: [(Int64, Float)] = []
            symmetric.reserveCapacity(directed.count * 2)
            for (key, w) in directed {
                let reverse = (key & 0xFFFF_FFFF) << 32 | key >> 32
                if let back = pairs[reverse] {
                    symmetric.append((key, w + back - w * back))
                } else {
                    let union = w
                    symmetric.append((key, union))
                    symmetric.append((reverse, union))
                }
            }
            symmetric.sort { $0.0 < $1.0 }
            for (key, w) in symmetric {
                heads.append(Int32(key >> 32))
                tails.append(Int32(key & 0xFFFF_FFFF))
                weights.append(w)
            }
        }
    }

    // MARK: Initialisation

    /// The eigenvectors of the normalised Laplacian for its smallest non-trivial eigenvalues, found
    /// as the top eigenvectors of D^-½ W D^-½ (shifted to be positive semi-definite) by subspace
    /// iteration with Rayleigh–Ritz; scaled to [0, 10] per axis as umap-learn does. A disconnected
    /// graph has no meaningful spectral layout, so it starts uniformly at random instead.
    static func spectralLayout(_ fuzzy: FuzzySet, dimensions: Int, random: inout SeededRandom) -> ([Float], String) {
        let n = (fuzzy.heads.map(Int.init).max() ?? 0) + 1
        var layout = [Float](repeating: 0, count: n * dimensions)
        var degree = [Double](repeating: 0, count: n)
        for (h, w) in zip(fuzzy.heads, fuzzy.weights) { degree[Int(h)] += Double(w) }
        guard isConnected(fuzzy, n: n), degree.allSatisfy({ $0 > 0 }) else {
            for i in layout.indices { layout[i] = random.unit() * 20 - 10 }
            return (normalised(layout, dimensions: dimensions, random: &random), "random")
        }
        let block = min(n, dimensions + 1 + 8)
        let inverseRoot = degree.map { 1 / $0.squareRoot() }
        let normalisedWeights = zip(zip(fuzzy.heads, fuzzy.tails), fuzzy.weights).map { pair, w in
            Double(w) * inverseRoot[Int(pair.0)] * inverseRoot[Int(pair.1)]
        }
        var v = [Double](repeating: 0, count: n * block)  // row-major: point i's block at i·block
        let total = degree.reduce(0, +)
        for i in 0..<n {
            v[i * block] = (degree[i] / total).squareRoot()  // the known top eigenvector
            for c in 1..<block { v[i * block + c] = Double(random.normal()) }
        }
        orthonormalise(&v, n: n, columns: block)
        var product = [Double](repeating: 0, count: n * block)
        // Enough sweeps to settle the leading vectors, within a fixed budget of multiply-adds.
        let sweeps = max(30, min(600, 3_000_000_000 / max(1, fuzzy.weights.count * block)))
        for sweep in 0..<sweeps {
            // product = ((M + I) / 2) v
            for i in 0..<(n * block) { product[i] = v[i] / 2 }  // the ½ I of the shift
            v.withUnsafeBufferPointer { source in
                product.withUnsafeMutableBufferPointer { target in
                    for e in 0..<normalisedWeights.count {
                        let h = Int(fuzzy.heads[e]) * block, t = Int(fuzzy.tails[e]) * block,
                            w = normalisedWeights[e] / 2
                        for c in 0..<block { target[h + c] += w * source[t + c] }
                    }
                }
            }
            swap(&v, &product)
            orthonormalise(&v, n: n, columns: block)
            if sweep % 10 == 9 || sweep == sweeps - 1 {
                rayleighRitz(&v, normalisedWeights, fuzzy, n: n, columns: block)
            }
        }
        // Columns 1…dimensions: the smallest non-trivial Laplacian eigenvalues.
        var maxAbs = 0.0
        for i in 0..<n { for c in 1...dimensions { maxAbs = max(maxAbs, abs(v[i * block + c])) } }
        let expansion = maxAbs > 0 ? 10 / maxAbs : 1
        for i in 0..<n {
            for c in 0..<dimensions {
                layout[i * dimensions + c] = Float(v[i * block + c + 1] * expansion) + 0.0001 * random.normal()
            }
        }
        return (normalised(layout, dimensions: dimensions, random: &random), "spectral")
    }

    /// Rescales each axis to [0, 10], as umap-learn does before optimising.
    static func normalised(_ layout: [Float], dimensions: Int, random: inout SeededRandom) -> [Float] {
        var out = layout
        let n = layout.count / dimensions
        for c in 0..<dimensions {
            var lo = Float.infinity, hi = -Float.infinity
            for i in 0..<n { lo = min(lo, layout[i * dimensions + c]); hi = max(hi, layout[i * dimensions + c]) }
            let scale = hi > lo ? 10 / (hi - lo) : 1
            for i in 0..<n { out[i * dimensions + c] = (layout[i * dimensions + c] - lo) * scale }
        }
        return out
    }

    static func isConnected(_ fuzzy: FuzzySet, n: Int) -> Bool {
        var sets = UnionFind(count: n)
        var components = n
        for (h, t) in zip(fuzzy.heads, fuzzy.tails) {
            let a = sets.find(Int(h)), b = sets.find(Int(t))
            if a != b { sets.attach(a, to: b); components -= 1 }
        }
        return components == 1
    }

    /// Modified Gram–Schmidt on the columns of a row-major n × columns block.
    static func orthonormalise(_ v: inout [Double], n: Int, columns: Int) {
        let stride = Int32(columns)
        v.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            for c in 0..<columns {
                let column = base + c
                for previous in 0..<c {
                    let other = base + previous
                    let dot = cblas_ddot(Int32(n), column, stride, other, stride)
                    cblas_daxpy(Int32(n), -dot, other, stride, column, stride)
                }
                let norm = cblas_dnrm2(Int32(n), column, stride)
                if norm > 1e-300 { cblas_dscal(Int32(n), 1 / norm, column, stride) }
            }
        }
    }

    /// Rotates the block to the eigenvectors of its projection, ordered by decreasing eigenvalue.
    static func rayleighRitz(_ v: inout [Double], _ weights: [Double], _ fuzzy: FuzzySet, n: Int, columns: Int) {
        var mv = [Double](repeating: 0, count: n * columns)
        for e in 0..<weights.count {
            let h = Int(fuzzy.heads[e]) * columns, t = Int(fuzzy.tails[e]) * columns, w = weights[e]
            for c in 0..<columns { mv[h + c] += w * v[t + c] }
        }
        // T = vᵀ M v (columns × columns), symmetric; v is n × columns row-major, i.e. its
        // transpose in column-major terms.
        var t = [Double](repeating: 0, count: columns * columns)
        cblas_dgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, Int32(columns), Int32(columns), Int32(n), 1, v, Int32(columns), mv,
            Int32(columns), 0, &t, Int32(columns))
        var eigenvalues = [Double](repeating: 0, count: columns)
        guard
            LAPACKE_dsyev(
                LAPACK_COL_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")), Int32(columns), &t, Int32(columns),
                &eigenvalues) == 0
        else { return }
        // Eigenvectors are T's columns (column-major), ascending; rotation[r][c] is the r-th entry
        // of the c-th largest, so v · rotation puts the largest first.
        var rotation = [Double](repeating: 0, count: columns * columns)
        for c in 0..<columns { for r in 0..<columns { rotation[r * columns + c] = t[(columns - 1 - c) * columns + r] } }
        var rotated = [Double](repeating: 0, count: n * columns)
        cblas_dgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(columns), Int32(columns), 1, v, Int32(columns),
            rotation, Int32(columns), 0, &rotated, Int32(columns))
        v = rotated
    }

    // MARK: a and b

    /// Fits 1 / (1 + a·x^(2b)) to the target curve (1 below min_dist, then exp(−(x − min_dist) /
    /// spread)) on 300 points over [0, 3·spread] by least squares (Levenberg–Marquardt), as
    /// umap-learn's find_ab_params does with scipy's curve_fit.
    public static func fitCurve(minDist: Float, spread: Float) -> (a: Float, b: Float) {
        let xs = (0..<300).map { Double($0) * 3 * Double(spread) / 299 }
        let ys = xs.map { $0 < Double(minDist) ? 1 : exp(-($0 - Double(minDist)) / Double(spread)) }
        var a = 1.0, b = 1.0, damping = 1e-3
        func residuals(_ a: Double, _ b: Double) -> Double {
            zip(xs, ys).reduce(0) { sum, p in
                let r = 1 / (1 + a * pow(p.0, 2 * b)) - p.1; return sum + r * r
            }
        }
        var cost = residuals(a, b)
        for _ in 0..<500 {
            var jtj = [0.0, 0.0, 0.0], jtr = [0.0, 0.0]
            for (x, y) in zip(xs, ys) where x > 0 {
                let p = pow(x, 2 * b), f = 1 / (1 + a * p)
                let da = -p * f * f, db = -a * p * 2 * log(x) * f * f
                let r = f - y
                jtj[0] += da * da; jtj[1] += da * db; jtj[2] += db * db
                jtr[0] += da * r; jtr[1] += db * r
            }
            let m0 = jtj[0] * (1 + damping), m2 = jtj[2] * (1 + damping), det = m0 * m2 - jtj[1] * jtj[1]
            guard det != 0 else { break }
            let stepA = (m2 * jtr[0] - jtj[1] * jtr[1]) / det, stepB = (m0 * jtr[1] - jtj[1] * jtr[0]) / det
            let candidate = residuals(a - stepA, b - stepB)
            if candidate < cost {
                a -= stepA; b -= stepB
                if cost - candidate < 1e-14 { cost = candidate; break }
                cost = candidate
                damping /= 10
            } else {
                damping *= 10
                if damping > 1e10 { break }
            }
        }
        return (Float(a), Float(b))
    }

    // MARK: Optimisation

    /// SGD over the fuzzy graph's edges, umap-learn's schedule: each edge is sampled in proportion
    /// to its weight, pulls its head towards its tail, and pushes the head from
    /// `negativeSampleRate` random points per sample.
    ///
    /// Threads own contiguous ranges of vertices and move only their own: an edge moves its head,
    /// and its reverse edge (the graph holds both) moves the other end. Within an epoch, every
    /// thread reads the other points' positions from a copy taken at the epoch's start, so no
    /// thread reads what another is writing (no data race, unlike Hogwild!); its own points it
    /// reads live. The result depends only on the seed and the thread count, and on one thread
    /// every read is live, as in umap-learn's single-threaded loop.
    static func optimise(
        _ layout: inout [Float], _ fuzzy: FuzzySet, n: Int, dimensions: Int, epochs: Int, a: Float, b: Float,
        options: Options, random: inout SeededRandom
    ) throws(AnalysisError) {
        let maxWeight = fuzzy.weights.max() ?? 1
        // Edges too weak to be sampled even once are dropped, as umap-learn does.
        let kept = fuzzy.weights.indices.filter { fuzzy.weights[$0] >= maxWeight / Float(epochs) }
        let heads = kept.map { Int(fuzzy.heads[$0]) }, tails = kept.map { Int(fuzzy.tails[$0]) }
        let epochsPerSample = kept.map { maxWeight / fuzzy.weights[$0] }
        let rate = Float(options.negativeSampleRate)
        let epochsPerNegative = epochsPerSample.map { $0 / rate }
        var nextSample = epochsPerSample
        var nextNegative = epochsPerNegative
        let gamma = options.repulsionStrength
        // Edges are sorted by head, so each thread's vertex range is a contiguous run of edges.
        let workers = max(1, min(options.threads, n / 64))
        let vertexBounds = (0...workers).map { $0 * n / workers }
        let edgeBounds = vertexBounds.map { bound in heads.partitionPoint { $0 < bound } }
        let seeds = (0..<workers).map { _ in random.next() }
        var snapshot = layout
        for epoch in 0..<epochs {
            if options.shouldStop?() == true { throw .cancelled(step: "UMAP", after: "\(epoch) of \(epochs) epochs") }
            defer { options.progress?(Double(epoch + 1) / Double(epochs)) }
            let alpha = options.learningRate * (1 - Float(epoch) / Float(epochs))
            let now = Float(epoch)
            snapshot.withUnsafeMutableBufferPointer { copy in _ = copy.initialize(from: layout) }
            layout.withUnsafeMutableBufferPointer { embedding in
                snapshot.withUnsafeBufferPointer { frozen in
                    nextSample.withUnsafeMutableBufferPointer { nextSample in
                        nextNegative.withUnsafeMutableBufferPointer { nextNegative in
                            let shared = UnsafeSendableBox(
                                (
                                    embedding.baseAddress!, frozen.baseAddress!, nextSample.baseAddress!,
                                    nextNegative.baseAddress!
                                ))
                            let work: @Sendable (Int) -> Void = { worker in
                                let (y, old, nextSample, nextNegative) = shared.value
                                var random = SeededRandom(seed: seeds[worker] &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
                                // This worker's own points are read live; the others as they were at the epoch's start.
                                let mine = vertexBounds[worker]..<vertexBounds[worker + 1]
                                @inline(__always) func position(_ v: Int) -> UnsafePointer<Float> {
                                    (mine.contains(v) ? UnsafePointer(y) : old) + v * dimensions
                                }
                                for e in edgeBounds[worker]..<edgeBounds[worker + 1] where nextSample[e] <= now {
                                    let current = y + heads[e] * dimensions
                                    var other = position(tails[e])
                                    var distance: Float = 0
                                    for d in 0..<dimensions {
                                        let delta = current[d] - other[d]; distance += delta * delta
                                    }
                                    // d^(b−1) as d^b / d: one powf per edge.
                                    let power = distance > 0 ? powf(distance, b) : 0
                                    let attraction =
                                        distance > 0 ? -2 * a * b * (power / distance) / (a * power + 1) : 0
                                    // One pull per directed edge. (Doubling it, to mimic umap-learn moving both
                                    // ends of both directions, measured worse: trustworthiness 0.950 vs 0.958.)
                                    for d in 0..<dimensions {
                                        current[d] += min(4, max(-4, attraction * (current[d] - other[d]))) * alpha
                                    }
                                    nextSample[e] += epochsPerSample[e]
                                    let negatives = Int((now - nextNegative[e]) / epochsPerNegative[e])
                                    for _ in 0..<max(0, negatives) {
                                        let k = random.below(n)
                                        if k == heads[e] { continue }
                                        other = position(k)
                                        distance = 0
                                        for d in 0..<dimensions {
                                            let delta = current[d] - other[d]; distance += delta * delta
                                        }
                                        let repulsion =
                                            distance > 0
                                            ? 2 * gamma * b / ((0.001 + distance) * (a * powf(distance, b) + 1)) : 0
                                        for d in 0..<dimensions {
                                            let g =
                                                repulsion > 0 ? min(4, max(-4, repulsion * (current[d] - other[d]))) : 4
                                            current[d] += g * alpha
                                        }
                                    }
                                    nextNegative[e] += Float(max(0, negatives)) * epochsPerNegative[e]
                                }
                            }
                            if workers == 1 {
                                work(0)
                            } else {
                                performConcurrently(iterations: workers, work)
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Array where Element: Comparable {
    /// The first index whose element fails `belongs` (the array being partitioned by it).
    func partitionPoint(_ belongs: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if !belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
