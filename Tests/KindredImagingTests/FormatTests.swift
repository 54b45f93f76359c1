import Foundation
import KindredTestSupport
import Testing

@testable import KindredImaging

/// TIFF, GIF, BMP, HEIC and AVIF (issue #20): every variant the decoders claim, against what the
/// file holds.
/// Parameterised cases run in parallel and share the fixture directory, so every file name here is
/// one case's own.
@Suite struct FormatTests {
    let original = Fixtures.pattern(width: 320, height: 240)

    @Test(arguments: Fixtures.TIFFKind.allCases)
    func tiffInEveryVariant(kind: Fixtures.TIFFKind) throws {
        let decoded = try decode(Fixtures.tiff([original], kind: kind), "variant-\(kind).tif")
        #expect(decoded.format == .tiff && decoded.image.width == 320 && decoded.image.height == 240)
        var expected = original
        switch kind {
        case .palette: expected = Fixtures.quantised(original)
        case .gray8, .gray16, .bilevel:
            for i in 0..<(320 * 240) {
                let (r, g, b) = (
                    Int(expected.pixels[i * 3]), Int(expected.pixels[i * 3 + 1]), Int(expected.pixels[i * 3 + 2])
                )
                let luma: Int = (r * 299 + g * 587 + b * 114) / 1000
                var gray = UInt8(luma)
                if kind == .bilevel { gray = gray >= 128 ? 255 : 0 }
                (expected.pixels[i * 3], expected.pixels[i * 3 + 1], expected.pixels[i * 3 + 2]) = (gray, gray, gray)
            }
        case .cmyk: expected = Fixtures.roundTrip(original, through: Fixtures.defaultCMYKProfile)
        case .rgbaUnassociated:
            for y in 0..<240 {
                for x in 0..<32 { for c in 0..<3 { expected.pixels[(y * 320 + x) * 3 + c] = 255 } }
            }
        default: break
        }
        #expect(difference(decoded.image, expected) < 1, "\(kind): \(difference(decoded.image, expected))")
    }

    @Test func tiffShrinksAndHonoursOrientationOfMultipageFiles() throws {
        // A second, different page: the first is what is decoded.
        let other = Fixtures.pattern(width: 100, height: 400)
        let decoded = try decode(Fixtures.tiff([original, other]), "multipage.tif", target: 120)
        #expect(decoded.image.width == 160 && decoded.image.height == 120)
        #expect(decoded.originalWidth == 320 && decoded.originalHeight == 240)
        #expect(topLeftBrightness(decoded.image) > 200)
    }

    /// A pyramid: the smallest level that still covers the output is decoded, recognisable here
    /// because each level is tinted differently.
    @Test func pyramidalTIFFDecodesTheSmallestLevelThatCovers() throws {
        func tinted(_ width: Int, _ height: Int, red: UInt8) -> RGBImage {
            var image = Fixtures.pattern(width: width, height: height)
            for i in 0..<(width * height) { image.pixels[i * 3] = red }
            return image
        }
        let levels = [tinted(1600, 1200, red: 10), tinted(800, 600, red: 90), tinted(400, 300, red: 170)]
        let file = Fixtures.tiff(levels, reduced: true)
        let small = try decode(file, "pyramid.tif", target: 256)
        #expect(small.image.width == 341 && small.image.height == 256)
        #expect(small.originalWidth == 1600 && small.originalHeight == 1200)
        #expect(abs(Int(small.image.pixels[3 * (128 * 341 + 300)]) - 170) <= 2, "read the 400 × 300 level")
        let middle = try decode(file, "pyramid.tif", target: 500)
        #expect(middle.image.height == 500 && abs(Int(middle.image.pixels[3 * (250 * 667 + 600)]) - 90) <= 2)
        let whole = try decode(file, "pyramid.tif", target: 1200)
        #expect(whole.image.height == 1200 && abs(Int(whole.image.pixels[3 * (600 * 1600 + 1500)]) - 10) <= 2)
        // Pages that are not marked reduced are other pictures, never levels.
        let notPyramid = try decode(Fixtures.tiff(levels, reduced: false), "not-a-pyramid.tif", target: 256)
        #expect(abs(Int(notPyramid.image.pixels[3 * (128 * 341 + 300)]) - 10) <= 2)
    }

    @Test func gifFirstFrameWithTransparencyOnWhite() throws {
        let expected = Fixtures.quantised(original)
        for interlaced in [false, true] {
            let decoded = try decode(Fixtures.gif(original, interlaced: interlaced), "p.gif")
            let same = decoded.image == expected
            #expect(decoded.format == .gif && same, "interlaced \(interlaced)")
        }
        // A frame smaller than the screen, offset, with one palette entry transparent: outside
        // the frame and where that entry is used, white.
        let index = Int(Fixtures.quantisedIndices(original)[0])
        let framed = try decode(
            Fixtures.gif(original, screen: (400, 300), at: (40, 30), transparent: index), "framed.gif")
        #expect(framed.image.width == 400 && framed.image.height == 300)
        #expect(framed.image.pixels[0..<3].allSatisfy { $0 == 255 }, "outside the frame")
        let inside = (30 * 400 + 40) * 3
        #expect(framed.image.pixels[inside..<(inside + 3)].allSatisfy { $0 == 255 }, "the transparent entry")
        let far = ((30 + 200) * 400 + 40 + 300) * 3
        #expect(
            Array(framed.image.pixels[far..<(far + 3)])
                == Array(expected.pixels[(200 * 320 + 300) * 3..<(200 * 320 + 300) * 3 + 3]))
    }

    @Test(arguments: Fixtures.BMPKind.allCases)
    func bmpInEveryVariant(kind: Fixtures.BMPKind) throws {
        let decoded = try decode(Fixtures.bmp(original, kind: kind), "variant-\(kind).bmp")
        #expect(decoded.format == .bmp && decoded.image.width == 320 && decoded.image.height == 240)
        let expected = Fixtures.bmpReference(original, kind: kind)
        let same = decoded.image == expected
        #expect(same, "\(kind): \(difference(decoded.image, expected))")
    }

    @Test(arguments: Fixtures.HEIFCodec.allCases)
    func heifInEveryCodec(codec: Fixtures.HEIFCodec) throws {
        let format: ImageFormat = codec == .hevc ? .heic : .avif
        let decoded = try decode(Fixtures.heif(original, codec: codec), "plain-\(codec).heif")
        #expect(decoded.format == format && decoded.image.width == 320 && decoded.image.height == 240)
        // Lossy at quality 92, 4:2:0: within two levels of the original on average (measured
        // 0.42 for HEVC, 0.53 for AV1).
        #expect(difference(decoded.image, original) < 2, "\(codec): \(difference(decoded.image, original))")

        // Orientation 6 (turn 90° clockwise to display): decoded upright, sides swapped.
        let turned = try decode(Fixtures.heif(original, codec: codec, orientation: 6), "turned-\(codec).heif")
        var upright = RGBImage(width: 240, height: 320)
        for y in 0..<320 {
            for x in 0..<240 {
                for c in 0..<3 {
                    upright.pixels[(y * 240 + x) * 3 + c] = original.pixels[((239 - x) * 320 + y) * 3 + c]
                }
            }
        }
        #expect(turned.image.width == 240 && turned.image.height == 320)
        #expect(turned.originalWidth == 240 && turned.originalHeight == 320)
        #expect(difference(turned.image, upright) < 2, "\(codec) turned: \(difference(turned.image, upright))")

        // Alpha: the transparent left band on white.
        let alpha = (0..<(320 * 240)).map { $0 % 320 < 32 ? UInt8(0) : 255 }
        let clear = try decode(Fixtures.heif(original, codec: codec, alpha: alpha), "alpha-\(codec).heif").image
        var white = original
        for y in 0..<240 { for x in 0..<32 { for c in 0..<3 { white.pixels[(y * 320 + x) * 3 + c] = 255 } } }
        #expect(difference(clear, white) < 2, "\(codec) alpha: \(difference(clear, white))")
    }

    /// A stored thumbnail that covers the target is decoded instead of the primary image; the
    /// result matches the primary image shrunk.
    @Test func heifTakesACoveringThumbnail() throws {
        let large = Fixtures.pattern(width: 1600, height: 1200)
        let bytes = Fixtures.heif(large, codec: .hevc, thumbnail: 400)
        let small = try decode(bytes, "thumbnailed.heic", target: 256)
        #expect(small.image.width == 341 && small.image.height == 256)
        #expect(small.originalWidth == 1600 && small.originalHeight == 1200)
        let whole = try decode(Fixtures.heif(large, codec: .hevc), "unthumbnailed.heic", target: 256)
        #expect(difference(small.image, whole.image) < 2, "\(difference(small.image, whole.image))")
    }

    @Test func newFormatsAreSniffedWhateverTheirName() throws {
        let small = Fixtures.pattern(width: 16, height: 16)
        for (bytes, format) in [
            (Fixtures.tiff([small]), ImageFormat.tiff), (Fixtures.gif(small), .gif),
            (Fixtures.bmp(small, kind: .rgb24), .bmp), (Fixtures.heif(small, codec: .hevc), .heic),
            (Fixtures.heif(small, codec: .av1), .avif), (Fixtures.jpeg2000(small), .jp2),
            (Fixtures.jpeg2000(small, codestream: true), .jp2),
        ] {
            #expect(try decode(bytes, "misnamed.jpg").format == format)
        }
    }

    @Test func truncatedAndLyingFilesEndInTypedErrors() throws {
        let image = Fixtures.pattern(width: 96, height: 64)
        var files: [([UInt8], String)] = [
            (Fixtures.gif(image), "t.gif"), (Fixtures.gif(image, interlaced: true), "i.gif"),
        ]
        for kind in [Fixtures.TIFFKind.rgbStrips, .rgbTiles, .bigTIFF] {
            files.append((Fixtures.tiff([image], kind: kind), "t.tif"))
        }
        for kind in [Fixtures.BMPKind.rgb24, .palette8, .rle8, .rle4, .bitfields565] {
            files.append((Fixtures.bmp(image, kind: kind), "t.bmp"))
        }
        for codec in Fixtures.HEIFCodec.allCases {
            files.append((Fixtures.heif(image, codec: codec), "t-\(codec).heif"))
        }
        for (bytes, name) in files { try expectCutsEndCleanly(bytes, name) }
        // Sizes claimed far beyond the limits are refused before anything is allocated.
        var bmp = Fixtures.bmp(image, kind: .rgb24)
        for (offset, value) in [(18, UInt32(200_000)), (22, UInt32(200_000))] {
            for i in 0..<4 { bmp[offset + i] = UInt8(value >> (8 * UInt32(i)) & 0xFF) }
        }
        #expect { try decode(bmp, "huge.bmp") } throws: { ($0 as! ImageError).kind == .tooLarge }
        var gif = Fixtures.gif(image)
        (gif[6], gif[7], gif[8], gif[9]) = (0xFF, 0xFF, 0xFF, 0xFF)  // a 65535 × 65535 screen
        #expect { try decode(gif, "huge.gif") } throws: { ($0 as! ImageError).kind == .tooLarge }
        // HEIF's size is its `ispe` property: claimed 200,000 × 200,000.
        for codec in Fixtures.HEIFCodec.allCases {
            var heif = Fixtures.heif(image, codec: codec)
            let ispe = try #require(
                (0..<(heif.count - 16)).first { Array(heif[$0..<($0 + 4)]) == Array("ispe".utf8) })
            for field in [ispe + 8, ispe + 12] {
                (heif[field], heif[field + 1], heif[field + 2], heif[field + 3]) = (0x00, 0x03, 0x0D, 0x40)
            }
            #expect { try decode(heif, "huge-\(codec).heif") } throws: { ($0 as! ImageError).kind == .tooLarge }
        }
    }
}
