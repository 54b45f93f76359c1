import Foundation
import KindredImaging

/// The 64-bit DCT perceptual hash (pHash): the image as 32 × 32 grey (area-resampled), its 2-D
/// DCT-II, and one bit per coefficient of the 8 × 8 lowest frequencies: set when the coefficient
/// is above their median (the DC term excluded from the median, as it only measures brightness).
/// Near-duplicates (rescaled, recompressed, slightly retouched) differ in a few bits; unrelated
/// images in about half. Stored as 8 bytes, most significant bit first.
public enum PerceptualHash {
    public static let producerVersion: UInt32 = 1

    /// DCT-II basis, cos(π (2x + 1) u / 64), for the 8 frequencies kept.
    private static let basis: [[Double]] = (0..<8).map { u in
        (0..<32).map { x in cos(Double.pi * Double(2 * x + 1) * Double(u) / 64) }
    }

    public static func compute(_ image: RGBImage) -> UInt64 {
        let small = image.resized(width: 32, height: 32)
        var gray = [Double](repeating: 0, count: 32 * 32)
        for i in 0..<(32 * 32) {
            gray[i] =
                0.299 * Double(small.pixels[i * 3]) + 0.587 * Double(small.pixels[i * 3 + 1]) + 0.114
                * Double(small.pixels[i * 3 + 2])
        }
        // Separable DCT, rows then columns, only the 8 × 8 low frequencies.
        var rows = [Double](repeating: 0, count: 32 * 8)
        for y in 0..<32 {
            for u in 0..<8 { rows[y * 8 + u] = (0..<32).reduce(0) { $0 + gray[y * 32 + $1] * basis[u][$1] } }
        }
        var coefficients = [Double](repeating: 0, count: 64)
        for v in 0..<8 {
            for u in 0..<8 { coefficients[v * 8 + u] = (0..<32).reduce(0) { $0 + rows[$1 * 8 + u] * basis[v][$1] } }
        }
        let median = coefficients[1...].sorted()[31]
        var hash: UInt64 = 0
        for (i, c) in coefficients.enumerated() where c > median { hash |= 1 << UInt64(63 - i) }
        return hash
    }

    public static func bytes(_ hash: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: hash >> UInt64(56 - 8 * $0)) }
    }

    /// The hash that `bytes` wrote; nil unless there are exactly 8 of them.
    public static func word(_ bytes: some Collection<UInt8>) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    public static func distance(_ a: UInt64, _ b: UInt64) -> Int { (a ^ b).nonzeroBitCount }
}
