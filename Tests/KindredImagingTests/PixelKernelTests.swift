import CKindredKernels
import Testing

/// The per-pixel C kernels at every instruction-set level this CPU runs, against the arithmetic
/// they replace, written out in Swift: the bytes and floats must be identical, not close.
@Suite struct PixelKernelTests {
    @Test func compositingOverWhiteIsExactAtEveryLevel() {
        // Every (value, alpha) pair, then a row of random pixels whose length leaves a tail.
        var rgba: [UInt8] = []
        for a in 0...255 { for v in 0...255 { rgba += [UInt8(v), UInt8(255 - v), UInt8(v / 2), UInt8(a)] } }
        rgba += (0..<(4 * 1003)).map { _ in UInt8.random(in: 0...255) }
        let width = rgba.count / 4
        let expected = (0..<width).flatMap { x in
            (0..<3).map { c in
                let a = Int(rgba[4 * x + 3])
                return UInt8((Int(rgba[4 * x + c]) * a + 255 * (255 - a) + 127) / 255)
            }
        }
        for level in 0...kk_imaging_level() {
            var rgb = [UInt8](repeating: 0, count: width * 3)
            kk_rgba_over_white(level, rgba, width, &rgb)
            #expect(rgb == expected, "level \(level)")
        }
    }

    @Test func accumulatingBytesIsExactAtEveryLevel() {
        let bytes = (0..<4099).map { _ in UInt8.random(in: 0...255) }
        let start = (0..<4099).map { _ in Float.random(in: 0...1000) }
        for weight: Float in [1, 0.3333333, 0.0078125, 0.9999999] {
            var expected = start
            for i in expected.indices { expected[i] += Float(bytes[i]) * weight }
            for level in 0...kk_imaging_level() {
                var sums = start
                kk_accumulate_bytes(level, &sums, bytes, bytes.count, weight)
                #expect(sums == expected, "level \(level), weight \(weight)")
            }
        }
    }
}
