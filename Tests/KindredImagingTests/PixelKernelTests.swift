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

    /// The bilinear enlargement's vertical blend: the same bytes at every level as the Swift it
    /// replaced (`UInt8(max(0, min(255, v)).rounded())`, halves up), including values at and past
    /// both ends and exact halves.
    @Test func blendingRowsIsExactAtEveryLevel() {
        let n = 4099
        var upper = (0..<n).map { _ in Float(UInt8.random(in: 0...255)) }
        var lower = (0..<n).map { _ in Float(UInt8.random(in: 0...255)) }
        // Exact halves, the ends, and sums a little past them (as float rounding can leave).
        upper[0...5] = [0.5, 254.5, 255, 0, 255.25, -0.25]
        lower[0...5] = [0.5, 254.5, 255, 0, 255.25, -0.25]
        for weight: Float in [0, 0.5, 0.3333333, 0.0078125, 0.9999999, 1] {
            let expected = (0..<n).map { i -> UInt8 in
                let v = max(0, min(255, upper[i] * (1 - weight) + lower[i] * weight))
                return UInt8(v.rounded(.toNearestOrAwayFromZero))
            }
            for level in 0...kk_imaging_level() {
                var out = [UInt8](repeating: 0, count: n)
                kk_blend_rows(level, upper, lower, n, weight, &out)
                #expect(out == expected, "level \(level), weight \(weight)")
            }
        }
    }

    /// The template search behind `RegionMatch`: every level finds the best window's normalised
    /// correlation as a Double computation over every window does (to float rounding), the levels
    /// bit for bit alike; it skips flat windows, and refuses a template larger than the image.
    @Test func bestCorrelationAgreesWithDoublesAtEveryLevel() {
        let rows = 23, cols = 29, channels = 1
        var image = (0..<(rows * cols * channels)).map { _ in Float.random(in: -128...127) }
        for x in 0..<(6 * channels) { image[x] = 5 }  // a flat strip along the top row's start
        let th = 9, tw = 13
        // A template cut from the image at (7, 11), less its mean, at unit norm: its own window scores 1.
        var template = (0..<th).flatMap { y in
            (0..<(tw * channels)).map { image[((7 + y) * cols + 11) * channels + $0] }
        }
        let mean = template.reduce(0, +) / Float(template.count)
        template = template.map { $0 - mean }
        let norm = template.reduce(0) { $0 + $1 * $1 }.squareRoot()
        template = template.map { $0 / norm }
        func reference(minDeviation: Double) -> Double {
            var best = -1.0
            let n = Double(th * tw * channels)
            for y in 0...(rows - th) {
                for x in 0...(cols - tw) {
                    var dot = 0.0, sum = 0.0, squares = 0.0
                    for r in 0..<th {
                        for i in 0..<(tw * channels) {
                            let v = Double(image[((y + r) * cols + x) * channels + i])
                            dot += v * Double(template[r * tw * channels + i])
                            sum += v
                            squares += v * v
                        }
                    }
                    let spread = squares - sum * sum / n
                    if spread >= minDeviation * minDeviation * n { best = max(best, dot / spread.squareRoot()) }
                }
            }
            return best
        }
        let expected = reference(minDeviation: 2)
        #expect(abs(expected - 1) < 1e-6)
        func best(
            _ level: Int32, _ image: [Float], _ rows: Int, _ cols: Int, _ templates: [[Float]], _ sizes: [(Int, Int)]
        ) -> Float {
            func next(_ i: Int, _ pointers: [UnsafePointer<Float>?]) -> Float {
                guard i < templates.count else {
                    let padded = image + [Float](repeating: .nan, count: Int(KK_CORRELATION_PADDING))
                    return kk_best_correlation(
                        level, padded, Int32(rows), Int32(cols), pointers, sizes.map { Int32($0.0) },
                        sizes.map { Int32($0.1) }, Int32(sizes.count), 2)
                }
                return templates[i].withUnsafeBufferPointer { next(i + 1, pointers + [$0.baseAddress]) }
            }
            return next(0, [])
        }
        // A second, smaller template of noise: the best of the two is the first's.
        var noise = (0..<(5 * 4 * channels)).map { _ in Float.random(in: -1...1) }
        let noiseMean = noise.reduce(0, +) / Float(noise.count)
        noise = noise.map { $0 - noiseMean }
        let noiseNorm = noise.reduce(0) { $0 + $1 * $1 }.squareRoot()
        noise = noise.map { $0 / noiseNorm }
        let baseline = best(0, image, rows, cols, [template], [(th, tw)])
        for level in Int32(0)...kk_imaging_level() {
            let found = best(level, image, rows, cols, [template], [(th, tw)])
            #expect(abs(Double(found) - expected) < 1e-4, "level \(level): \(found)")
            #expect(found == baseline, "level \(level): \(found) against the baseline's \(baseline)")
            #expect(best(level, image, rows, cols, [noise, template], [(5, 4), (th, tw)]) == found)
            // Everything flat: no window varies, nothing scores.
            let flat = [Float](repeating: 7, count: image.count)
            #expect(best(level, flat, rows, cols, [template], [(th, tw)]) == -1)
            // A template taller or wider than the image fits nowhere; an image over the largest
            // side is refused.
            #expect(best(level, Array(image.prefix(8 * cols * channels)), 8, cols, [template], [(th, tw)]) == -1)
            let wide = [Float](repeating: 1, count: 2 * Int(KK_CORRELATION_MAX_SIDE + 1) * channels)
            #expect(best(level, wide, 2, Int(KK_CORRELATION_MAX_SIDE + 1), [noise], [(1, 1)]) == -1)
        }
    }
}
