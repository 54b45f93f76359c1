import Foundation
import KindredTestSupport
import Testing

@testable import KindredImaging

/// JPEG 2000 (issue #20): each colour model OpenJPEG writes, lossless and lossy, tiled, 16-bit,
/// bare codestreams, the reduced-resolution decode, and damaged files.
@Suite struct JPEG2000Tests {
    let original = Fixtures.pattern(width: 320, height: 240)

    /// The picture as the fixture writes it in `colour`, before any loss: luma for grey, alpha
    /// composited on white.
    func expected(_ colour: Fixtures.JPEG2000Colour) -> RGBImage {
        var image = original
        for i in 0..<(image.width * image.height) {
            let (r, g, b) = (
                Double(image.pixels[i * 3]), Double(image.pixels[i * 3 + 1]), Double(image.pixels[i * 3 + 2])
            )
            switch colour {
            case .gray:
                let luma = UInt8((0.299 * r + 0.587 * g + 0.114 * b).rounded())
                for c in 0..<3 { image.pixels[i * 3 + c] = luma }
            case .rgba:
                let a = (i % image.width) * 255 / (image.width - 1)
                for c in 0..<3 {
                    image.pixels[i * 3 + c] = UInt8((Int(image.pixels[i * 3 + c]) * a + 255 * (255 - a) + 127) / 255)
                }
            case .rgb, .ycc420, .cmyk: break
            }
        }
        return image
    }

    @Test(arguments: Fixtures.JPEG2000Colour.allCases)
    func everyColourModel(colour: Fixtures.JPEG2000Colour) throws {
        let decoded = try decode(Fixtures.jpeg2000(original, colour: colour), "lossless-\(colour).jp2")
        #expect(decoded.format == .jp2 && decoded.image.width == 320 && decoded.image.height == 240)
        let error = difference(decoded.image, expected(colour))
        switch colour {
        case .rgb, .gray, .rgba:
            // Lossless: the samples exactly (grey and alpha within the rounding of the fixture's
            // own luma and blend).
            #expect(error < 0.01, "\(colour): \(error)")
        case .ycc420:
            // Chroma at a quarter of the samples, on a pattern with hard colour edges.
            #expect(error < 6, "\(colour): \(error)")
        case .cmyk:
            // Lossless inks: exactly what the default profile's round trip recovers.
            let recovered = Fixtures.roundTrip(original, through: Fixtures.defaultCMYKProfile)
            let error = difference(decoded.image, recovered)
            #expect(error < 0.01 && decoded.colourProfile != nil, "\(colour): \(error)")
        }
    }

    @Test func lossyTiledSixteenBitAndBareCodestreams() throws {
        let variants: [(String, [UInt8], Double)] = [
            ("lossy-20.jp2", Fixtures.jpeg2000(original, ratio: 20), 4),
            ("tiled.jp2", Fixtures.jpeg2000(original, levels: 4, tile: 64), 0.01),
            ("sixteen.jp2", Fixtures.jpeg2000(original, bits: 16), 0.51),
            ("bare.j2k", Fixtures.jpeg2000(original, codestream: true), 0.01),
            ("bare-lossy.j2c", Fixtures.jpeg2000(original, codestream: true, ratio: 10), 3),
        ]
        for (name, bytes, tolerance) in variants {
            let decoded = try decode(bytes, name)
            #expect(decoded.format == .jp2 && decoded.image.width == 320 && decoded.image.height == 240, "\(name)")
            #expect(difference(decoded.image, original) < tolerance, "\(name): \(difference(decoded.image, original))")
        }
    }

    /// A large file is decoded at the coarsest wavelet level that still covers the output, and
    /// lands near the same picture shrunk from full size.
    @Test func reducedResolutionDecode() throws {
        // 4000 × 3000 with six levels, for a 256 short side: levels of 2000, 1000, 500, 250 (too
        // small); three are discarded, leaving 500 × 375.
        #expect(JPEG2000Decoder.discardedLevels(grid: (0, 0, 4000, 3000), levels: 6, covering: (341, 256)) == 3)
        #expect(JPEG2000Decoder.reduced((0, 0, 4000, 3000), by: 3) == (500, 375))
        // Never more than the file has, and an odd grid origin rounds as the standard says.
        #expect(JPEG2000Decoder.discardedLevels(grid: (0, 0, 4000, 3000), levels: 2, covering: (341, 256)) == 1)
        #expect(JPEG2000Decoder.reduced((3, 1, 1003, 751), by: 2) == (250, 187))

        // What OpenJPEG holds (a 32-bit sample a component) counts against the in-memory budget:
        // 96 × 64 × 3 components is 73,728 bytes, over a 10,000-pixel (30,000-byte) budget when
        // decoded whole, within it once four levels are discarded.
        var tight = DecodeOptions()
        (tight.pixelLimit, tight.targetShortSide) = (10_000, 4)
        let budgeted = Fixtures.pattern(width: 96, height: 64)
        let whole = Fixtures.jpeg2000(budgeted, levels: 1), pyramid = Fixtures.jpeg2000(budgeted, levels: 6)
        #expect {
            try whole.withUnsafeBytes { try ImageDecoder.decode($0, path: "whole.jp2", options: tight) }
        } throws: { ($0 as! ImageError).kind == .tooLarge }
        let reduced = try pyramid.withUnsafeBytes { try ImageDecoder.decode($0, path: "pyramid.jp2", options: tight) }
        #expect(reduced.image.width == 6 && reduced.image.height == 4)

        let large = Fixtures.pattern(width: 1600, height: 1200)
        let small = try decode(Fixtures.jpeg2000(large), "large.jp2", target: 256)
        #expect(small.image.width == 341 && small.image.height == 256)
        #expect(small.originalWidth == 1600 && small.originalHeight == 1200)
        let reference = try decode(Fixtures.png(large, kind: .rgb8), "large.png", target: 256)
        #expect(difference(small.image, reference.image) < 4, "\(difference(small.image, reference.image))")
    }

    @Test func damagedAndLyingFilesEndInTypedErrors() throws {
        let image = Fixtures.pattern(width: 96, height: 64)
        for (bytes, name) in [
            (Fixtures.jpeg2000(image), "t.jp2"), (Fixtures.jpeg2000(image, codestream: true, ratio: 8), "t.j2k"),
            (Fixtures.jpeg2000(image, tile: 32), "tiled.jp2"),
        ] {
            try expectCutsEndCleanly(bytes, name, cuts: 80)
            // Bytes overwritten through the body (in a fixed pattern, so a failure repeats): an
            // error or an image, never a crash.
            for round in 1...40 {
                var damaged = bytes
                for k in 1...8 {
                    damaged[40 + (round * 7919 + k * 104_729) % (bytes.count - 40)] = UInt8(
                        truncatingIfNeeded: round * k * 37)
                }
                _ = try? decode(damaged, name)
            }
        }
        // The size is the SIZ marker's Xsiz and Ysiz (and, untiled, the tile's XTsiz and YTsiz;
        // in JP2 also the ihdr box's height and width): claimed 200,000 × 200,000.
        func claimHuge(_ bytes: inout [UInt8], at fields: [Int]) {
            for field in fields {
                (bytes[field], bytes[field + 1], bytes[field + 2], bytes[field + 3]) = (0x00, 0x03, 0x0D, 0x40)
            }
        }
        for codestream in [false, true] {
            var bytes = Fixtures.jpeg2000(image, codestream: codestream)
            let siz =
                try #require((0..<(bytes.count - 4)).first { bytes[$0..<($0 + 4)] == [0xFF, 0x4F, 0xFF, 0x51] }) + 2
            claimHuge(&bytes, at: [siz + 6, siz + 10, siz + 22, siz + 26])
            if let ihdr = (0..<(bytes.count - 4)).first(where: { bytes[$0..<($0 + 4)] == Array("ihdr".utf8)[...] }) {
                claimHuge(&bytes, at: [ihdr + 4, ihdr + 8])
            }
            #expect { try decode(bytes, "huge.jp2") } throws: { ($0 as! ImageError).kind == .tooLarge }
        }
    }
}
