import Foundation
import KindredFeatures
import KindredImaging
import KindredTestSupport
import Testing

/// Issue #20: the CNN's top ImageNet class of real photographs (mate-backgrounds' nature
/// pictures) survives saving the picture in every format Kindred reads and decoding it again,
/// colour-managed CMYK and Adobe RGB included. The GIF is Pillow's (an adaptive palette,
/// dithered), as an editor exports a photograph; the fixtures' fixed 216-colour cube is not.
@Suite struct FormatRoundTripTests {

    @Test func topClassSurvivesEveryFormat() throws {
        let folder = kindredCache.appendingPathComponent(
            "wallpapers/mate-backgrounds/usr/share/backgrounds/mate/nature")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter {
            $0.hasSuffix(".jpg")
        }.sorted()
        try #require(names.count >= 8, "no mate-backgrounds in \(folder.path): run `scripts/setup.sh testdata`")
        var options = DecodeOptions()
        options.targetShortSide = 320
        let photos = try names.map {
            try ImageDecoder.decode(file: folder.appendingPathComponent($0), options: options).image
        }
        let encoders: [(String, (RGBImage) -> [UInt8])] = [
            ("jpg", { Fixtures.jpeg($0, quality: 90) }), ("png", { Fixtures.png($0, kind: .rgb8) }),
            ("webp", { Fixtures.webp($0) }), ("tif", { Fixtures.tiff([$0]) }),
            ("gif", { Fixtures.pillowGIF($0) }),
            ("bmp", { Fixtures.bmp($0, kind: .rgb24) }), ("heic", { Fixtures.heif($0, codec: .hevc) }),
            ("avif", { Fixtures.heif($0, codec: .av1) }), ("jp2", { Fixtures.jpeg2000($0, ratio: 12) }),
            ("dng", { Fixtures.dng($0) }), ("cmyk.jpg", { Fixtures.jpeg($0, kind: .cmyk, quality: 90) }),
            ("cmyk.tif", { Fixtures.tiff([$0], kind: .cmyk) }),
            (
                "adobe-rgb.png",
                {
                    Fixtures.png(
                        RGBImage(
                            width: $0.width, height: $0.height,
                            pixels: Fixtures.converted($0, into: Fixtures.adobeRGBProfile)),
                        kind: .rgb8, iccProfile: Fixtures.adobeRGBProfile)
                }
            ),
        ]
        let network = try EfficientNetLite0(weights: convertedWeights, batchSize: 8, threads: 2)
        /// Each image's most likely class and its softmax probability.
        func topClasses(_ images: [RGBImage]) -> [(class: Int, probability: Float)] {
            let logits = network.run(images: images, logits: true).logits
            return images.indices.map { n in
                let row = logits[(n * 1000)..<((n + 1) * 1000)], top = row.max()!
                let total = row.reduce(Float(0)) { $0 + exp($1 - top) }
                return (row.firstIndex(of: top)! - n * 1000, 1 / total)
            }
        }
        // Only photographs of something ImageNet names can keep their class: those the network
        // gives at least even odds. (A dandelion clock on bokeh is "quill" at low probability, and
        // any change of its background changes that guess.)
        let confident = zip(names, topClasses(photos)).enumerated().filter { $0.element.1.probability >= 0.5 }
        let originals = confident.map { photos[$0.offset] }, expected = confident.map { $0.element.1.class }
        print("round trips: \(confident.map { "\($0.element.0) \($0.element.1)" })")
        try #require(originals.count >= 3, "fewer than three photographs the network is sure of")
        var changed: [String] = []
        for (format, encode) in encoders {
            let decoded = try originals.enumerated().map { i, image in
                try encode(image).withUnsafeBytes {
                    try ImageDecoder.decode($0, path: "\(i).\(format)", options: options)
                }.image
            }
            let classes = topClasses(decoded)
            for i in originals.indices where classes[i].class != expected[i] {
                changed.append(
                    "\(confident[i].element.0) as \(format): class \(expected[i]) became \(classes[i].class)")
            }
        }
        #expect(changed.isEmpty, "\(changed)")
    }
}
