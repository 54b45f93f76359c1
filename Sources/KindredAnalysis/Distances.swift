import COpenBLAS
import KindredCore

/// Blocked squared-Euclidean distances through sgemm: ‖a‖² − 2 a·b + ‖b‖², the form that turns
/// an n × m distance block into one matrix product.
enum Distances {
    static func squaredNorms(_ x: UnsafePointer<Float>, rows: Int, columns: Int) -> [Float] {
        (0..<rows).map { r in
            var sum: Float = 0
            for c in 0..<columns { sum += x[r * columns + c] * x[r * columns + c] }
            return sum
        }
    }

    /// out[i·m + j] = ‖a_i − b_j‖² for i < n, j < m (clamped at 0 against rounding).
    static func squared(
        _ a: UnsafePointer<Float>, _ aNorms: UnsafePointer<Float>, n: Int,
        _ b: UnsafePointer<Float>, _ bNorms: UnsafePointer<Float>, m: Int, columns: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(m), Int32(columns), -2, a, Int32(columns), b,
            Int32(columns), 0, out, Int32(m))
        for i in 0..<n {
            let row = out + i * m
            let ai = aNorms[i]
            for j in 0..<m { row[j] = max(0, row[j] + ai + bNorms[j]) }
        }
    }
}
