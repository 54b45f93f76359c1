import CKindredKernels

/// The int4 row layout of kindred_kernels.h: a 64-byte header (offset, step, the sum of the codes,
/// the decoded |x|², the dimension), then two codes a byte.
///
/// A vector's 16 levels span its smallest to its largest component. Clipping the range to
/// mean ± k σ (finer steps for the bulk, the tails saturated) was measured and lost: CNN
/// features are sparse and heavy-tailed (57 % zeros on openclipart; the large components carry
/// the match), and with k = 2.7 only 0.96 of the 10 nearest stayed in the codes' 64 nearest,
/// against 0.9998 without clipping (RESULTS.md, "int4 walk codes").
enum Int4Row {
    /// Where component `i`'s code lives: its byte and whether it is the high nibble.
    @inline(__always) static func place(_ i: Int) -> (byte: Int, high: Bool) {
        let block = i / 128, j = i % 128
        return (block * 64 + j % 64, j >= 64)
    }

    static func encode(
        _ source: UnsafeBufferPointer<Float>, into row: UnsafeMutableRawPointer, dimension: Int, padded: Int
    ) {
        var lo = Float.infinity, hi = -Float.infinity
        for x in source.prefix(dimension) {
            lo = min(lo, x)
            hi = max(hi, x)
        }
        if dimension == 0 { (lo, hi) = (0, 0) }
        let step = hi > lo ? (hi - lo) / 15 : 0
        let inverse = step > 0 ? 1 / step : 0
        let codes = (row + Int(KK_I4_HEADER_BYTES)).assumingMemoryBound(to: UInt8.self)
        codes.initialize(repeating: 0, count: padded / 2)
        var codeSum = 0
        var squares: Float = 0
        for i in 0..<dimension {
            let code = UInt8(max(0, min(15, ((source[i] - lo) * inverse).rounded())))
            let (byte, high) = place(i)
            codes[byte] |= high ? code << 4 : code
            codeSum += Int(code)
            let decoded = lo + Float(code) * step
            squares += decoded * decoded
        }
        let header = row.assumingMemoryBound(to: Float.self)
        header.initialize(repeating: 0, count: Int(KK_I4_HEADER_BYTES) / 4)
        header[0] = lo
        header[1] = step
        header[2] = Float(codeSum)
        header[3] = squares
        row.storeBytes(of: UInt32(dimension), toByteOffset: 16, as: UInt32.self)
    }

    static func decode(_ row: UnsafeRawPointer, into out: UnsafeMutableBufferPointer<Float>, dimension: Int) {
        let header = row.assumingMemoryBound(to: Float.self)
        let lo = header[0], step = header[1]
        let codes = (row + Int(KK_I4_HEADER_BYTES)).assumingMemoryBound(to: UInt8.self)
        for i in 0..<dimension {
            let (byte, high) = place(i)
            out[i] = lo + Float(high ? codes[byte] >> 4 : codes[byte] & 15) * step
        }
    }
}
