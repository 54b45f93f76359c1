import Foundation
import KindredFeatures
import KindredImaging
import KindredTestSupport
import Testing

/// A painting-like test image: soft colour fields and a few strokes, set by a seed.
func artwork(width: Int, height: Int, seed: Int) -> RGBImage {
    var image = RGBImage(width: width, height: height)
    let s = Double(seed)
    for y in 0..<height {
        for x in 0..<width {
            let u = Double(x) / Double(width), v = Double(y) / Double(height)
            let r = 128 + 100 * sin(3 * u + s) * cos(2 * v + 0.3 * s)
            let g = 128 + 90 * sin(5 * v - s + u)
            let b = 128 + 80 * cos(4 * u * v + 2 * s)
            let stroke = (x + 2 * y + seed * 7) % 37 < 3 ? -60.0 : 0
            let p = (y * width + x) * 3
            image.pixels[p] = UInt8(max(0, min(255, r + stroke)))
            image.pixels[p + 1] = UInt8(max(0, min(255, g + stroke)))
            image.pixels[p + 2] = UInt8(max(0, min(255, b + stroke)))
        }
    }
    return image
}

@Suite struct DescriptorTests {
    let original = composition(width: 400, height: 300, seed: 1)

    @Test func styleVectorShapeAndNormalisation() {
        let style = StyleDescriptor.compute(original)
        #expect(style.count == StyleDescriptor.dimension && StyleDescriptor.dimension <= 512)
        #expect(abs(style.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
        #expect(style.allSatisfy { $0.isFinite })
    }

    @Test func resizedCopyStaysCloseAndUnrelatedImageIsFar() {
        let copy = original.resized(width: 160, height: 120)
        let unrelated = composition(width: 400, height: 300, seed: 9)
        let same = cosine(StyleDescriptor.compute(original), StyleDescriptor.compute(copy))
        let different = cosine(StyleDescriptor.compute(original), StyleDescriptor.compute(unrelated))
        #expect(same > 0.97, "resized copy: \(same)")
        #expect(different < same - 0.1, "unrelated: \(different), copy: \(same)")

        let hash = PerceptualHash.compute(original)
        #expect(PerceptualHash.distance(hash, PerceptualHash.compute(copy)) <= 4)
        // The smooth field is the hard case for pHash (its energy sits in a few coefficients and
        // the rest hover at the median), yet a resized copy stays within the usual 10-bit
        // near-duplicate threshold.
        let smooth = artwork(width: 400, height: 300, seed: 1)
        #expect(
            PerceptualHash.distance(
                PerceptualHash.compute(smooth), PerceptualHash.compute(smooth.resized(width: 160, height: 120))) <= 10)
        #expect(PerceptualHash.distance(hash, PerceptualHash.compute(unrelated)) >= 16)
    }

    @Test func hashSurvivesRecompressionAndSmallEdits() {
        var edited = original
        for i in stride(from: 0, to: edited.pixels.count, by: 97) {
            edited.pixels[i] = UInt8(min(255, Int(edited.pixels[i]) + 9))
        }
        #expect(PerceptualHash.distance(PerceptualHash.compute(original), PerceptualHash.compute(edited)) <= 2)
        #expect(PerceptualHash.bytes(0x0102_0304_0506_0708) == [1, 2, 3, 4, 5, 6, 7, 8])
    }
}
