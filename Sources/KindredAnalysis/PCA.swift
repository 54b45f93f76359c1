import COpenBLAS
import Foundation
import KindredCore

/// Principal component analysis. Narrow data (d ≤ `randomizedAbove`) is fitted exactly: the
/// covariance matrix accumulated in double precision (dsyrk over centred blocks of rows), then
/// LAPACK's dsyevd, which also gives the whole scree curve. Wide data uses the randomised SVD of
/// Halko, Martinsson & Tropp (2011) with power iterations; its scree curve covers the components
/// it found, as fractions of the total variance (the trace, computed exactly).
///
/// Signs follow scikit-learn's convention: each component's largest-magnitude loading is
/// positive, so results can be compared with it directly.
public struct PCA: Sendable {
    /// Column means of the fitted data.
    public let mean: [Float]
    /// `components.rows` principal axes, unit length, by decreasing variance (k × d).
    public let components: Matrix
    /// Variance along each kept component.
    public let explainedVariance: [Double]
    /// Fraction of the total variance along every component found (the scree curve), decreasing.
    public let varianceRatio: [Double]
    public let totalVariance: Double

    public var cumulativeVarianceRatio: [Double] { varianceRatio.reduce(into: []) { $0.append(($0.last ?? 0) + $1) } }
    /// The fraction of the variance the kept components explain.
    public var explained: Double { varianceRatio.prefix(components.rows).reduce(0, +) }

    public struct Options: Sendable {
        /// Keep the fewest components that explain at least this fraction of the variance…
        public var varianceTarget: Double = 0.9
        /// …but never more than this many.
        public var maxComponents: Int = 128
        /// Above this many columns, the randomised SVD is used.
        public var randomizedAbove: Int = 4096
        public var seed: UInt64 = 0

        public init(varianceTarget: Double = 0.9, maxComponents: Int = 128) {
            self.varianceTarget = varianceTarget
            self.maxComponents = maxComponents
        }
    }

    public static func fit(_ x: Matrix, options: Options = Options()) throws(AnalysisError) -> PCA {
        guard x.rows >= 2 else { throw .tooFewPoints(needed: 2, got: x.rows, step: "PCA") }
        for (i, value) in x.storage.enumerated() where !value.isFinite {
            throw .badInput(
                step: "PCA",
                reason:
                    "row \(i / x.columns) has a NaN or infinite value in column \(i % x.columns); drop or impute such rows first"
            )
        }
        guard options.varianceTarget > 0, options.varianceTarget <= 1 else {
            throw .invalidParameter(
                name: "variance", value: "\(options.varianceTarget)", requirement: "a fraction in (0, 1]")
        }
        guard options.maxComponents >= 1 else {
            throw .invalidParameter(
                name: "max-components", value: "\(options.maxComponents)", requirement: "at least 1")
        }
        let mean = columnMeans(x)
        return x.columns <= options.randomizedAbove
            ? try exact(x, mean: mean, options: options) : try randomized(x, mean: mean, options: options)
    }

    /// Projects rows onto the kept components: (x − mean) · componentsᵀ, 4,096 rows at a time, so
    /// the extra memory is one block of centred rows, not a centred copy of x (5 GB at a million
    /// 1280-d rows).
    public func transform(_ x: Matrix) -> Matrix {
        precondition(x.columns == mean.count, "PCA was fitted on \(mean.count) columns, not \(x.columns)")
        let d = x.columns, k = components.rows, block = 4096
        var out = Matrix(rows: x.rows, columns: k)
        var centred = [Float](repeating: 0, count: min(block, max(x.rows, 1)) * d)
        x.storage.withUnsafeBufferPointer { values in
            components.storage.withUnsafeBufferPointer { w in
                out.storage.withUnsafeMutableBufferPointer { y in
                    centred.withUnsafeMutableBufferPointer { a in
                        for first in stride(from: 0, to: x.rows, by: block) {
                            let rows = min(block, x.rows - first)
                            for r in 0..<rows {
                                for c in 0..<d { a[r * d + c] = values[(first + r) * d + c] - mean[c] }
                            }
                            cblas_sgemm(
                                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(k), Int32(d), 1,
                                a.baseAddress, Int32(d), w.baseAddress, Int32(d), 0, y.baseAddress! + first * k,
                                Int32(k))
                        }
                    }
                }
            }
        }
        return out
    }

    static func columnMeans(_ x: Matrix) -> [Float] {
        var sums = [Double](repeating: 0, count: x.columns)
        x.storage.withUnsafeBufferPointer { values in
            for r in 0..<x.rows { for c in 0..<x.columns { sums[c] += Double(values[r * x.columns + c]) } }
        }
        return sums.map { Float($0 / Double(x.rows)) }
    }

    /// How many components meet the target, within the cap and the number found.
    static func componentCount(_ ratios: [Double], options: Options) -> Int {
        var cumulative = 0.0
        for (i, ratio) in ratios.enumerated() {
            cumulative += ratio
            if cumulative >= options.varianceTarget - 1e-12 { return min(i + 1, options.maxComponents) }
        }
        return min(ratios.count, options.maxComponents)
    }

    private static func exact(_ x: Matrix, mean: [Float], options: Options) throws(AnalysisError) -> PCA {
        let n = x.rows, d = x.columns
        var covariance = [Double](repeating: 0, count: d * d)
        let block = 2048
        var centred = [Double](repeating: 0, count: block * d)
        x.storage.withUnsafeBufferPointer { values in
            for first in stride(from: 0, to: n, by: block) {
                let rows = min(block, n - first)
                for r in 0..<rows {
                    for c in 0..<d { centred[r * d + c] = Double(values[(first + r) * d + c] - mean[c]) }
                }
                // Upper triangle of C += Bᵀ B (row-major, so B is rows × d).
                cblas_dsyrk(
                    CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(rows), 1, centred, Int32(d), 1, &covariance,
                    Int32(d))
            }
        }
        let scale = 1 / Double(n - 1)
        for i in 0..<(d * d) { covariance[i] *= scale }
        var eigenvalues = [Double](repeating: 0, count: d)
        let info = LAPACKE_dsyevd(
            LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")), Int32(d), &covariance, Int32(d),
            &eigenvalues)
        guard info == 0 else {
            throw .numerical(
                step: "PCA", reason: "the eigen-decomposition did not converge (LAPACK dsyevd info \(info))")
        }
        // Ascending from LAPACK; columns of `covariance` are the eigenvectors.
        let order = Array((0..<d).reversed())
        let values = order.map { max(0, eigenvalues[$0]) }
        let total = values.reduce(0, +)
        guard total > 0 else {
            throw .numerical(step: "PCA", reason: "the data has no variance (every row is the same)")
        }
        let ratios = values.map { $0 / total }
        let k = componentCount(ratios, options: options)
        var components = Matrix(rows: k, columns: d)
        for (row, column) in order.prefix(k).enumerated() {
            for j in 0..<d { components.storage[row * d + j] = Float(covariance[j * d + column]) }
        }
        flipSigns(&components)
        return PCA(
            mean: mean, components: components, explainedVariance: Array(values.prefix(k)), varianceRatio: ratios,
            totalVariance: total)
    }

    private static func randomized(_ x: Matrix, mean: [Float], options: Options) throws(AnalysisError) -> PCA {
        let n = x.rows, d = x.columns
        let rank = min(n, d, options.maxComponents)
        let width = min(min(n, d), rank + 10)  // oversampling
        var centred = x
        centred.storage.withUnsafeMutableBufferPointer { values in
            for r in 0..<n { for c in 0..<d { values[r * d + c] -= mean[c] } }
        }
        let total = centred.storage.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n - 1)
        guard total > 0 else {
            throw .numerical(step: "PCA", reason: "the data has no variance (every row is the same)")
        }
        var random = SeededRandom(seed: options.seed)
        var omega = (0..<(d * width)).map { _ in random.normal() }
        var y = [Float](repeating: 0, count: n * width)
        var z = [Float](repeating: 0, count: d * width)
        func orthonormalize(_ a: inout [Float], rows: Int) throws(AnalysisError) {
            var tau = [Float](repeating: 0, count: width)
            guard LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, Int32(rows), Int32(width), &a, Int32(width), &tau) == 0,
                LAPACKE_sorgqr(LAPACK_ROW_MAJOR, Int32(rows), Int32(width), Int32(width), &a, Int32(width), &tau) == 0
            else {
                throw .numerical(step: "PCA", reason: "QR factorisation failed")
            }
        }
        // Y = A Ω, then power iterations Y = A (Aᵀ Y), orthonormalised each time.
        centred.storage.withUnsafeBufferPointer { a in
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(width), Int32(d), 1, a.baseAddress, Int32(d),
                omega, Int32(width), 0, &y, Int32(width))
        }
        try orthonormalize(&y, rows: n)
        for _ in 0..<4 {
            centred.storage.withUnsafeBufferPointer { a in
                cblas_sgemm(
                    CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(width), Int32(n), 1, a.baseAddress,
                    Int32(d), y, Int32(width), 0, &z, Int32(width))
            }
            try orthonormalize(&z, rows: d)
            centred.storage.withUnsafeBufferPointer { a in
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(width), Int32(d), 1, a.baseAddress,
                    Int32(d), z, Int32(width), 0, &y, Int32(width))
            }
            try orthonormalize(&y, rows: n)
        }
        // B = Qᵀ A (width × d); its SVD gives the axes.
        var b = [Float](repeating: 0, count: width * d)
        centred.storage.withUnsafeBufferPointer { a in
            cblas_sgemm(
                CblasRowMajor, CblasTrans, CblasNoTrans, Int32(width), Int32(d), Int32(n), 1, y, Int32(width),
                a.baseAddress, Int32(d), 0, &b, Int32(d))
        }
        var singular = [Float](repeating: 0, count: width)
        var u = [Float](repeating: 0, count: width * width)
        var vt = [Float](repeating: 0, count: width * d)
        let info = LAPACKE_sgesdd(
            LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), Int32(width), Int32(d), &b, Int32(d), &singular, &u,
            Int32(width), &vt, Int32(d))
        guard info == 0 else {
            throw .numerical(step: "PCA", reason: "the SVD did not converge (LAPACK sgesdd info \(info))")
        }
        omega = []
        let values = singular.prefix(rank).map { Double($0) * Double($0) / Double(n - 1) }
        let ratios = values.map { $0 / total }
        let k = componentCount(ratios, options: options)
        var components = Matrix(rows: k, columns: d, storage: Array(vt.prefix(k * d)))
        flipSigns(&components)
        return PCA(
            mean: mean, components: components, explainedVariance: Array(values.prefix(k)), varianceRatio: ratios,
            totalVariance: total)
    }

    /// Makes each row's largest-magnitude entry positive (scikit-learn's `svd_flip` on Vᵀ).
    private static func flipSigns(_ components: inout Matrix) {
        let d = components.columns
        for r in 0..<components.rows {
            let row = (r * d)..<((r + 1) * d)
            let largest = components.storage[row].max { abs($0) < abs($1) } ?? 0
            if largest < 0 { for j in row { components.storage[j] = -components.storage[j] } }
        }
    }
}
