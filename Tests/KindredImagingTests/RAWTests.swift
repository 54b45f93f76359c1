import Foundation
import KindredTestSupport
import Testing

@testable import KindredImaging

/// Camera RAW (issue #20), on DNG files the tests lay out themselves: the half-size decode of
/// the sensor mosaic, the embedded preview when it covers the output, orientation, and damage.
@Suite struct RAWTests {
    let sensor = Fixtures.pattern(width: 1200, height: 900)

    /// The mosaic shrunk by LibRaw's half-size decode lands near the picture it samples.
    @Test func halfSizeDecodeOfTheSensorData() throws {
        let decoded = try decode(Fixtures.dng(sensor), "sensor.dng", target: 256)
        #expect(decoded.format == .raw)
        #expect(decoded.originalWidth == 1200 && decoded.originalHeight == 900)
        #expect(decoded.image.width == 341 && decoded.image.height == 256)
        let reference = try decode(Fixtures.png(sensor, kind: .rgb8), "sensor.png", target: 256)
        let error = difference(decoded.image, reference.image)
        #expect(error < 4, "\(error)")
    }

    /// A preview covering the output is taken instead of the sensor data (here a different
    /// picture, to tell which was decoded); one too small is not.
    @Test func previewWhenItCovers() throws {
        let other = composition(width: 400, height: 300, seed: 7)
        let large = try decode(Fixtures.dng(sensor, preview: other), "large-preview.dng", target: 256)
        // The preview is the fixture's JPEG of `other`, decoded as any JPEG is.
        let expected = try decode(Fixtures.jpeg(other, quality: 90), "other.jpg", target: 256)
        #expect(large.format == .raw && large.originalWidth == 1200)
        #expect(large.image == expected.image)

        let tiny = composition(width: 160, height: 120, seed: 7)
        let small = try decode(Fixtures.dng(sensor, preview: tiny), "small-preview.dng", target: 256)
        let reference = try decode(Fixtures.png(sensor, kind: .rgb8), "sensor.png", target: 256)
        #expect(difference(small.image, reference.image) < 4, "\(difference(small.image, reference.image))")
    }

    /// Orientation 6 (turn clockwise) turns both the sensor decode and the preview.
    @Test func orientation() throws {
        for (name, bytes) in [
            ("turned.dng", Fixtures.dng(sensor, orientation: 6)),
            (
                "turned-preview.dng",
                Fixtures.dng(sensor, preview: Fixtures.pattern(width: 400, height: 300), orientation: 6)
            ),
        ] {
            let decoded = try decode(bytes, name, target: 256)
            #expect(decoded.originalWidth == 900 && decoded.originalHeight == 1200, "\(name)")
            // Portrait, its shorter side at least the target (a JPEG preview stops at its DCT scale).
            let (w, h) = (decoded.image.width, decoded.image.height)
            #expect(h > w && w >= 256 && abs(Double(h) / Double(w) - 4.0 / 3) < 0.02, "\(name): \(w)×\(h)")
            // The bright square, top-left in the picture, is top-right once turned clockwise.
            let image = decoded.image
            let topRight = Int(image.pixels[(10 * image.width + image.width - 10) * 3 + 2])
            let topLeft = Int(image.pixels[(10 * image.width + 10) * 3 + 2])
            #expect(topRight > 200 && topLeft < 120, "\(name): top right \(topRight), top left \(topLeft)")
        }
    }

    /// A TIFF that merely names a camera maker is still a TIFF; a misnamed DNG is still RAW.
    @Test func cameraTIFFsAndMisnamedFiles() throws {
        #expect(try decode(Fixtures.dng(Fixtures.pattern(width: 64, height: 48)), "misnamed.jpg").format == .raw)
        let tiff = Fixtures.tiff([Fixtures.pattern(width: 64, height: 48)])
        #expect(try decode(tiff, "plain.tif").format == .tiff)
    }

    @Test func damagedAndLyingFilesEndInTypedErrors() throws {
        let bytes = Fixtures.dng(Fixtures.pattern(width: 96, height: 64))
        try expectCutsEndCleanly(bytes, "cut.dng")
        // Width and height claimed 60,000 × 60,000.
        var huge = bytes
        for tag in [256, 257] {
            let entry = try #require(
                (8..<(huge.count - 12)).first {
                    huge[$0] == UInt8(tag & 0xFF) && huge[$0 + 1] == UInt8(tag >> 8) && huge[$0 + 2] == 4
                })
            (huge[entry + 8], huge[entry + 9], huge[entry + 10], huge[entry + 11]) = (0x60, 0xEA, 0, 0)
        }
        #expect { try decode(huge, "huge.dng") } throws: { error in
            let kind = (error as! ImageError).kind
            return kind == .tooLarge || kind == .corrupt
        }
    }
}
