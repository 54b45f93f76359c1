import Testing

@testable import KindredImaging

/// How a picture is prepared for description: borders trimmed, mirrored, fitted whole.
@Suite struct FramingTests {
    /// A 60 × 40 picture with a gradient, so no row or column of it is uniform.
    func picture() -> RGBImage {
        var image = RGBImage(width: 60, height: 40)
        for y in 0..<40 {
            for x in 0..<60 {
                let i = (y * 60 + x) * 3
                image.pixels[i] = UInt8(40 + x * 3)
                image.pixels[i + 1] = UInt8(30 + y * 4)
                image.pixels[i + 2] = UInt8((x * y) % 200)
            }
        }
        return image
    }

    /// `image` inside a mat of `colour`, `left`/`top`/`right`/`bottom` pixels wide.
    func matted(_ image: RGBImage, _ colour: UInt8, _ left: Int, _ top: Int, _ right: Int, _ bottom: Int) -> RGBImage {
        let w = image.width + left + right, h = image.height + top + bottom
        var out = RGBImage(width: w, height: h, pixels: [UInt8](repeating: colour, count: w * h * 3))
        for y in 0..<image.height {
            for x in 0..<image.width {
                for c in 0..<3 {
                    out.pixels[((y + top) * w + x + left) * 3 + c] = image.pixels[(y * image.width + x) * 3 + c]
                }
            }
        }
        return out
    }

    @Test func aMatIsTrimmedToThePicture() {
        let original = picture()
        // Mats of any widths, and a letterbox (top and bottom only).
        for (colour, sides) in [(UInt8(255), (12, 5, 30, 9)), (0, (3, 3, 3, 3)), (128, (0, 20, 0, 7))] {
            let trimmed = matted(original, colour, sides.0, sides.1, sides.2, sides.3).trimmingUniformBorders()
            #expect(trimmed == original, "mat \(colour) \(sides)")
        }
    }

    /// `rows` horizontal stripes of these grey levels, each `height` pixels, 64 wide.
    func stripes(_ levels: [UInt8], height: Int) -> RGBImage {
        RGBImage(
            width: 64, height: levels.count * height,
            pixels: levels.flatMap { [UInt8](repeating: $0, count: 64 * height * 3) })
    }

    @Test func aBorderOnOneSideOrTwoUnlikeSidesIsThePicturesOwn() {
        // A flag of three stripes: its outer stripes are uniform rows, but in different colours
        // (top and bottom), and no column is uniform. Trimming each side by its own corner's colour
        // used to cut it to its middle stripe.
        let flag = stripes([200, 255, 40], height: 10)
        #expect(flag.trimmingUniformBorders() == flag)
        // A border on one side alone.
        let oneSided = matted(picture(), 128, 0, 20, 0, 0)
        #expect(oneSided.trimmingUniformBorders() == oneSided)
    }

    @Test func aCopyInAMatIsTrimmedToWhatItsOriginalIsTrimmedTo() {
        let flag = stripes([200, 255, 40], height: 10)
        for colour: UInt8 in [0, 128, 160] {  // none within 24 of an outer stripe
            #expect(matted(flag, colour, 9, 9, 9, 9).trimmingUniformBorders() == flag, "mat \(colour)")
        }
        // Frames in frames: a drawing on a white canvas, in a dark mat, is cut to the drawing, as
        // the canvas alone is.
        let canvas = matted(picture(), 255, 6, 4, 6, 4)
        #expect(canvas.trimmingUniformBorders() == picture())
        #expect(matted(canvas, 30, 10, 10, 10, 10).trimmingUniformBorders() == picture())
    }

    @Test func aPictureWithoutABorderOrAllBorderIsKept() {
        let original = picture()
        #expect(original.trimmingUniformBorders() == original)
        let flat = RGBImage(width: 50, height: 50, pixels: [UInt8](repeating: 200, count: 50 * 50 * 3))
        #expect(flat.trimmingUniformBorders() == flat, "a flat field is its own picture")
        // A tiny mark on a large blank page: cutting to it would leave under a sixteenth.
        var page = RGBImage(width: 100, height: 100, pixels: [UInt8](repeating: 255, count: 100 * 100 * 3))
        for i in 0..<3 { page.pixels[(50 * 100 + 50) * 3 + i] = 0 }
        #expect(page.trimmingUniformBorders() == page)
    }

    @Test func mirroringTwiceIsTheIdentity() {
        let original = picture()
        let mirrored = original.mirrored()
        #expect(mirrored != original && mirrored.mirrored() == original)
        #expect(Array(mirrored.pixels[0..<3]) == Array(original.pixels[(59 * 3)..<(60 * 3)]))
    }

    @Test func theWholeFitCentresThePictureOnItsBorderColour() {
        let wide = matted(picture(), 255, 0, 0, 0, 0)  // 60 × 40, its border not white
        var input = [Float](repeating: 9, count: 224 * 224 * 3)
        wide.cnnInput(into: &input, framing: Framing(fit: .whole, trimBorders: false))
        // 60 × 40 → 224 × 149: 37 rows of padding above and 38 below.
        let border = wide.borderColour()
        let pad = (Float(border.0) - 127) / 128
        #expect(input[0] == pad && input[(223 * 224 + 223) * 3] == pad)
        #expect(input[(36 * 224 + 100) * 3] == pad && input[(38 * 224 + 100) * 3] != pad)
        #expect(input.allSatisfy { (-1...1).contains($0) })
    }
}
