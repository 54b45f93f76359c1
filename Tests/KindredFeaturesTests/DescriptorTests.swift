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

    /// A greyscale copy is colourless; its colour-free parts match its coloured original's far
    /// better than the whole style vectors do, and still score an unrelated picture lower (by less:
    /// without colour there is less to tell pictures apart, so only colourless queries use them).
    @Test func aGreyscaleCopyIsComparedByWhatColourCannotChange() {
        func greyscale(_ image: RGBImage) -> RGBImage {
            var grey = image
            for i in 0..<(image.width * image.height) {
                let p = image.pixels[(i * 3)..<(i * 3 + 3)].map(Float.init)
                let luma = UInt8(min(255, (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]).rounded()))
                for c in 0..<3 { grey.pixels[i * 3 + c] = luma }
            }
            return grey
        }
        let colour = StyleDescriptor.compute(original)
        let grey = StyleDescriptor.compute(greyscale(original))
        let unrelated = StyleDescriptor.compute(greyscale(composition(width: 400, height: 300, seed: 9)))
        #expect(!StyleDescriptor.isColourless(colour) && StyleDescriptor.isColourless(grey))
        #expect(!StyleDescriptor.isColourless([Float](repeating: 0, count: 3)), "not a style vector")
        let free = { StyleDescriptor.colourFree($0) }
        #expect(free(grey).count == 46 && abs(free(grey).reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
        let whole = cosine(grey, colour), parts = cosine(free(grey), free(colour))
        #expect(parts > 0.97 && parts > whole + 0.2, "colour-free \(parts), whole \(whole)")
        #expect(cosine(free(grey), free(unrelated)) < parts - 0.02, "an unrelated picture scores lower")
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
