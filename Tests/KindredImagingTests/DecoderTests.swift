import Foundation
import KindredTestSupport
import Testing

@testable import KindredImaging

/// Mean absolute difference per channel between two images of one size.
func difference(_ a: RGBImage, _ b: RGBImage) -> Double {
    precondition(a.width == b.width && a.height == b.height)
    return zip(a.pixels, b.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(a.pixels.count)
}

/// The average brightness of the top-left quarter, where the pattern's bright square sits.
func topLeftBrightness(_ image: RGBImage) -> Double {
    var sum = 0.0
    for y in 0..<(image.height / 5) {
        for x in 0..<(image.width / 5) { sum += Double(image.pixels[(y * image.width + x) * 3 + 2]) }
    }
    return sum / Double((image.height / 5) * (image.width / 5))
}

/// `bytes` written to a file called `name` and decoded toward `target` (by default, unshrunk).
func decode(_ bytes: [UInt8], _ name: String, target: Int = 10_000) throws -> DecodedImage {
    var options = DecodeOptions()
    options.targetShortSide = target
    return try ImageDecoder.decode(file: Fixtures.write(bytes, name), options: options)
}

/// Decodes `bytes` cut short at `cuts` points through the file: each cut must end in an
/// `ImageError` with a reason, or (a cut after the last pixel, such as a GIF's trailer) decode to
/// exactly the whole file's pixels, never to other ones.
func expectCutsEndCleanly(_ bytes: [UInt8], _ name: String, cuts: Int = 60) throws {
    let whole = try decode(bytes, name).image
    for cut in stride(from: 1, to: bytes.count - 1, by: max(1, bytes.count / cuts)) {
        do {
            let same = try decode(Array(bytes[0..<cut]), name).image == whole
            #expect(same, "\(name) cut at \(cut) of \(bytes.count) decoded to other pixels")
        } catch let error as ImageError {
            #expect(!error.reason.isEmpty)
        }
    }
}

@Suite struct DecoderTests {
    let original = Fixtures.pattern(width: 320, height: 240)

    @Test func jpegInEveryFlavour() throws {
        for kind in [Fixtures.JPEGKind.rgb, .progressive, .cmyk] {
            let decoded = try decode(Fixtures.jpeg(original, kind: kind), "p.jpg")
            #expect(decoded.format == .jpeg && decoded.image.width == 320 && decoded.image.height == 240)
            #expect(difference(decoded.image, original) < 6, "\(kind)")
        }
        let gray = try decode(Fixtures.jpeg(original, kind: .gray), "g.jpg").image
        #expect(gray.pixels[0] == gray.pixels[1] && gray.pixels[1] == gray.pixels[2], "gray decodes to equal channels")
    }

    @Test func jpegUsesDCTScalingDownToTheTarget() throws {
        let big = Fixtures.pattern(width: 2400, height: 1600)
        let decoded = try decode(Fixtures.jpeg(big), "big.jpg", target: 256)
        // 1/4 gives 600×400, the smallest scale whose shorter side reaches 256 (1/8 would give 200).
        #expect(decoded.image.width == 600 && decoded.image.height == 400)
        #expect(decoded.originalWidth == 2400 && decoded.originalHeight == 1600)
    }

    @Test func exifOrientationIsApplied() throws {
        let plain = Fixtures.jpeg(original)
        for (orientation, width, squareTopLeft) in [
            (UInt16(1), 320, true), (3, 320, false), (6, 240, false), (8, 240, true),
        ] {
            let decoded = try decode(Fixtures.withOrientation(plain, orientation), "o\(orientation).jpg").image
            #expect(decoded.width == width, "orientation \(orientation)")
            // The square starts top-left; rotating 180° or 90° clockwise moves it away, 90° anticlockwise keeps it left… at the bottom.
            if orientation == 1 || orientation == 3 {
                #expect((topLeftBrightness(decoded) > 200) == squareTopLeft, "orientation \(orientation)")
            }
        }
        // 6 (rotate 90° clockwise): the square goes to the top-right.
        let six = try decode(Fixtures.withOrientation(plain, 6), "six.jpg").image
        var topRight = 0.0
        for y in 0..<(six.height / 5) {
            for x in (six.width * 4 / 5)..<six.width { topRight += Double(six.pixels[(y * six.width + x) * 3 + 2]) }
        }
        #expect(topRight / Double((six.height / 5) * (six.width - six.width * 4 / 5)) > 200)
    }

    @Test func pngInEveryDepthAndColourType() throws {
        for kind in [Fixtures.PNGKind.rgb8, .gray8, .gray16, .rgb16, .interlaced] {
            let decoded = try decode(Fixtures.png(original, kind: kind), "p.png")
            #expect(decoded.format == .png && decoded.image.width == 320 && decoded.image.height == 240, "\(kind)")
            if kind == .rgb8 || kind == .rgb16 || kind == .interlaced {
                #expect(difference(decoded.image, original) < 0.5, "\(kind)")
            }
        }
        let palette = try decode(Fixtures.png(original, kind: .palette), "pal.png").image
        #expect(Array(palette.pixels[0..<3]) == [250, 250, 250])
        // Alpha composites on white: every other pixel is fully transparent.
        let alpha = try decode(Fixtures.png(original, kind: .rgba8), "a.png").image
        #expect(Array(alpha.pixels[3..<6]) == [255, 255, 255])
        #expect(Array(alpha.pixels[0..<3]) == Array(original.pixels[0..<3]))
    }

    @Test func lowBitDepthGrayPNG() throws {
        for bits: UInt8 in [1, 2, 4] {
            let decoded = try decode(Fixtures.lowDepthGrayPNG(original, bits: bits), "g\(bits).png").image
            #expect(decoded.width == 320 && decoded.height == 240)
            // Levels are scaled to 0…255: 1 bit gives only black and white.
            let levels = Set(stride(from: 0, to: decoded.pixels.count, by: 3).map { decoded.pixels[$0] })
            #expect(levels.count <= 1 << Int(bits) && levels.contains(255), "\(bits)-bit: \(levels.sorted())")
            #expect(decoded.pixels[0] == decoded.pixels[1] && decoded.pixels[1] == decoded.pixels[2])
        }
    }

    @Test func animatedWebPGivesItsFirstFrame() throws {
        let second = Fixtures.pattern(width: 320, height: 240).resized(width: 320, height: 240)
        var inverted = second
        for i in inverted.pixels.indices { inverted.pixels[i] = 255 - inverted.pixels[i] }
        let decoded = try decode(Fixtures.animatedWebP([original, inverted]), "anim.webp")
        #expect(decoded.image == original, "the first frame, losslessly")
    }

    @Test func pngStreamsThroughTheResampler() throws {
        let wide = Fixtures.pattern(width: 3000, height: 1200)
        let decoded = try decode(Fixtures.png(wide, kind: .rgb8), "wide.png", target: 256)
        #expect(decoded.image.width == 640 && decoded.image.height == 256)
        #expect(
            difference(decoded.image, wide.resized(width: 640, height: 256)) < 0.01,
            "streaming equals whole-image resampling")
        #expect(topLeftBrightness(decoded.image) > 200)
    }

    @Test func webpLossyAndLossless() throws {
        let lossless = try decode(Fixtures.webp(original, lossless: true), "l.webp")
        #expect(lossless.image == original)
        let lossy = try decode(Fixtures.webp(original), "x.webp", target: 120)
        #expect(lossy.image.width == 160 && lossy.image.height == 120, "libwebp scales to the target")
        #expect(difference(lossy.image, original.resized(width: 160, height: 120)) < 8)
    }

    @Test func areaResamplingIsAntialiased() {
        // A one-pixel checkerboard halved is uniform grey, not a sample of black or white.
        var board = RGBImage(width: 64, height: 64)
        for i in 0..<(64 * 64) where (i % 64 + i / 64) % 2 == 0 { for c in 0..<3 { board.pixels[i * 3 + c] = 255 } }
        let half = board.resized(width: 32, height: 32)
        #expect(half.pixels.allSatisfy { (127...128).contains($0) })
        // A non-integer factor keeps a constant image constant.
        var flat = RGBImage(width: 97, height: 61)
        for i in flat.pixels.indices { flat.pixels[i] = 77 }
        #expect(flat.resized(width: 40, height: 25).pixels.allSatisfy { $0 == 77 })
    }

    @Test func cnnInputIsTheCentreCropOfTheShortSideAt256() {
        var input = [Float](repeating: 0, count: 224 * 224 * 3)
        Fixtures.pattern(width: 512, height: 256).cnnInput(into: &input)
        #expect(input.allSatisfy { (-1...1).contains($0) })
        // 512×256 → 512×256 (already 256 short), crop x from 144: the square (x < 128) is gone.
        #expect(input[2] < 0.5)
    }
}

@Suite struct BrokenFileTests {
    func expectError(
        _ bytes: [UInt8], _ name: String, _ fragment: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let url = Fixtures.write(bytes, name)
        do {
            _ = try ImageDecoder.decode(file: url)
            Issue.record("\(name) of \(bytes.count) bytes decoded", sourceLocation: sourceLocation)
        } catch {
            #expect(error.path == url.path, sourceLocation: sourceLocation)
            if let fragment {
                #expect(error.reason.contains(fragment), "\(error.reason)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func truncationAtManyOffsetsIsATypedError() {
        let image = Fixtures.pattern(width: 96, height: 64)
        for (bytes, name) in [
            (Fixtures.jpeg(image), "t.jpg"), (Fixtures.png(image, kind: .rgb8), "t.png"),
            (Fixtures.webp(image), "t.webp"),
        ] {
            for cut in stride(from: 1, to: bytes.count - 1, by: max(1, bytes.count / 40)) {
                // libspng stops at IEND's type, so a PNG missing only IEND's CRC still has every
                // pixel: that may decode, but only to the exact image.
                if name == "t.png", cut >= bytes.count - 4 {
                    let decoded = try? ImageDecoder.decode(file: Fixtures.write(Array(bytes[0..<cut]), name))
                    #expect(decoded == nil || decoded!.image == image)
                    continue
                }
                expectError(Array(bytes[0..<cut]), name)
            }
        }
    }

    @Test func junkZeroBytesAndWrongExtensions() throws {
        expectError([], "empty.jpg", "empty file")
        var generator = SystemRandomNumberGenerator()
        for i in 0..<20 {
            expectError(
                (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }, "r\(i).png",
                ImageFormat.unrecognisedReason)
        }
        expectError(Array("GIF89a plus some more".utf8), "anim.gif", "GIF")
        // A PNG named .jpg decodes by its content.
        let url = Fixtures.write(Fixtures.png(Fixtures.pattern(width: 8, height: 8), kind: .rgb8), "really-a-png.jpg")
        #expect(try ImageDecoder.decode(file: url).format == .png)
        #expect { try ImageDecoder.decode(file: Fixtures.directory.appendingPathComponent("missing.jpg")) } throws: {
            ($0 as! ImageError).reason == "cannot open: No such file or directory"
        }
        // A FIFO (no writer: opening it for reading would wait for one) and a file over the size
        // limit are refused at once, before anything is read.
        let fifo = Fixtures.directory.appendingPathComponent("fifo-\(UUID().uuidString).jpg")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        defer { try? FileManager.default.removeItem(at: fifo) }
        #expect { try ImageDecoder.decode(file: fifo) } throws: { ($0 as! ImageError).reason == "not a regular file" }
        var small = DecodeOptions()
        small.maxFileBytes = 100
        #expect { try ImageDecoder.decode(file: url, options: small) } throws: {
            let error = $0 as! ImageError
            return error.kind == .tooLarge && error.reason.hasSuffix("exceeds the 0 MiB limit")
        }
    }

    /// The size rules (DecodeOptions, their one owner) refuse a header before anything is
    /// allocated for it, and an extreme aspect ratio is shrunk on its long side too.
    @Test func headerBombsAreRefusedBeforeAllocating() throws {
        let options = DecodeOptions()
        let bombs: [(String, [UInt8], String)] = [
            ("strip.png", Fixtures.pngClaiming(width: 1_000_000_000, height: 1), "exceeds the 262144-pixel side limit"),
            ("tall.png", Fixtures.pngClaiming(width: 1, height: 2_000_000_000), "exceeds the 262144-pixel side limit"),
            ("square.png", Fixtures.pngClaiming(width: 40_000, height: 40_000), "exceeds pixel limit 1000 MP"),
        ]
        for (name, bytes, reason) in bombs {
            #expect { try ImageDecoder.decode(file: Fixtures.write(bytes, name), options: options) } throws: { error in
                (error as? ImageError)?.reason.contains(reason) == true
            }
        }
        #expect(options.outputSize(width: 262_144, height: 100) == (4096, 2))
        #expect(options.outputSize(width: 6000, height: 4000) == (384, 256))
        #expect(options.outputSize(width: 100, height: 80) == (100, 80), "never enlarged")
        #expect(throws: ImageError.self) { try options.admit(width: Int.max, height: 2, path: "overflow") }
        // A real strip (40,000 × 2) decodes to at most 4,096 wide, not 40,000.
        let strip = try ImageDecoder.decode(
            file: Fixtures.write(
                Fixtures.png(Fixtures.pattern(width: 40_000, height: 2), kind: .rgb8), "real-strip.png"))
        #expect(strip.image.width == 4096 && strip.image.height == 1 && strip.originalWidth == 40_000)
    }

    @Test func lyingHeadersAndBadChecksums() {
        // A PNG whose IHDR (with a valid CRC) claims 100000×100000.
        var png = Fixtures.png(Fixtures.pattern(width: 8, height: 8), kind: .rgb8)
        for (offset, value) in [(16, UInt32(100_000)), (20, UInt32(100_000))] {
            for i in 0..<4 { png[offset + i] = UInt8(value >> (24 - 8 * UInt32(i)) & 0xFF) }
        }
        let crc = Fixtures.crc32(png[12..<29])
        for i in 0..<4 { png[29 + i] = UInt8(crc >> (24 - 8 * UInt32(i)) & 0xFF) }
        expectError(png, "huge.png", "exceeds pixel limit")
        // A flipped bit in IDAT's CRC field (the 4 bytes before the 12-byte IEND chunk).
        var damaged = Fixtures.png(Fixtures.pattern(width: 32, height: 32), kind: .rgb8)
        damaged[damaged.count - 14] ^= 0x01
        expectError(damaged, "crc.png", "CRC")
        // A JPEG whose SOF claims 65535×65535.
        var jpeg = Fixtures.jpeg(Fixtures.pattern(width: 16, height: 16))
        if let sof = (0..<(jpeg.count - 9)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) {
            for i in 5...8 { jpeg[sof + i] = 0xFF }
        }
        expectError(jpeg, "huge.jpg")
    }
}
