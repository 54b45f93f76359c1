import Foundation
import KindredImaging
import KindredTestSupport
import Testing

/// A collection of every format kindredd reads (issue #20), through a real kindredd: each
/// picture is saved in every format, and SIMILAR finds, for each file, a copy of the same picture
/// first. Hostile variants of the new formats end in ERRORS with the daemon alive.
@Suite(.serialized) struct FormatCollectionTests {
    let root = temporaryDirectory("formats")

    static let formats: [(String, @Sendable (RGBImage) -> [UInt8])] = [
        ("jpg", { Fixtures.jpeg($0) }), ("png", { Fixtures.png($0, kind: .rgb8) }), ("webp", { Fixtures.webp($0) }),
        ("tif", { Fixtures.tiff([$0]) }), ("gif", { Fixtures.gif($0) }), ("bmp", { Fixtures.bmp($0, kind: .rgb24) }),
        ("heic", { Fixtures.heif($0, codec: .hevc) }), ("avif", { Fixtures.heif($0, codec: .av1) }),
        ("jp2", { Fixtures.jpeg2000($0, ratio: 12) }), ("dng", { Fixtures.dng($0) }),
    ]

    @Test func everyFormatsCopyOfAPictureIsFoundFirst() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        try FileManager.default.createDirectory(at: art, withIntermediateDirectories: true)
        let pictures = (1...4).map { composition(width: 320, height: 240, seed: UInt64(40 + $0)) }
        for (number, picture) in pictures.enumerated() {
            for (ext, encode) in Self.formats {
                try Data(encode(picture)).write(to: art.appendingPathComponent("p\(number)-\(ext).\(ext)"))
            }
        }
        // Hostile HEIF, JPEG 2000 and DNG: cut short, and claiming huge sizes (HEIF in its `ispe`
        // property).
        let heic = Fixtures.heif(pictures[0], codec: .hevc)
        var huge = Fixtures.heif(pictures[1], codec: .av1)
        if let ispe = (0..<(huge.count - 16)).first(where: { Array(huge[$0..<($0 + 4)]) == Array("ispe".utf8) }) {
            for field in [ispe + 8, ispe + 12] {
                (huge[field], huge[field + 1], huge[field + 2], huge[field + 3]) = (0x00, 0x03, 0x0D, 0x40)
            }
        }
        let jp2 = Fixtures.jpeg2000(pictures[2]), dng = Fixtures.dng(pictures[3])
        // A codestream whose SIZ marker claims 200,000² (image and tile), and a DNG whose IFD
        // claims 60,000² (its ImageWidth and ImageLength, LONGs).
        var hugeJP2 = Fixtures.jpeg2000(pictures[2], codestream: true), hugeDNG = dng
        for field in [8, 12, 24, 28] {
            (hugeJP2[field], hugeJP2[field + 1], hugeJP2[field + 2], hugeJP2[field + 3]) = (0x00, 0x03, 0x0D, 0x40)
        }
        for tag: UInt8 in [0x00, 0x01] {
            if let entry = (8..<(hugeDNG.count - 12)).first(where: {
                hugeDNG[$0] == tag && hugeDNG[$0 + 1] == 0x01 && hugeDNG[$0 + 2] == 4 && hugeDNG[$0 + 3] == 0
            }) {
                (hugeDNG[entry + 8], hugeDNG[entry + 9], hugeDNG[entry + 10], hugeDNG[entry + 11]) = (0x60, 0xEA, 0, 0)
            }
        }
        let hostile: [(String, [UInt8], String)] = [
            ("cut.heic", Array(heic.prefix(heic.count / 2)), "HEIC"),
            ("cut-header.heic", Array(heic.prefix(40)), "HEIC"),
            ("huge.avif", huge, "200000×200000 exceeds"),
            ("cut.jp2", Array(jp2.prefix(jp2.count / 2)), "JPEG 2000"),
            ("cut.dng", Array(dng.prefix(dng.count / 2)), "camera RAW"),
            ("huge.j2k", hugeJP2, "200000×200000 exceeds"), ("huge.dng", hugeDNG, "60000×60000 exceeds"),
        ]
        for (name, bytes, _) in hostile { try Data(bytes).write(to: art.appendingPathComponent(name)) }

        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        try daemon.start()
        try daemon.waitUntilIdle(indexed: pictures.count * Self.formats.count, failed: hostile.count)
        let errors = try daemon.ask("ERRORS").dropFirst().map { $0.split(separator: "\t", maxSplits: 1) }
        for (name, _, fragment) in hostile {
            let reason = errors.first { $0[0].hasSuffix("/" + name) }.map { String($0[1]) } ?? ""
            #expect(reason.contains(fragment), "\(name): '\(reason)'")
        }
        #expect(try daemon.ask("INFO \(art.path)/p0-heic.heic").contains("format\theic"))
        #expect(try daemon.ask("INFO \(art.path)/p0-avif.avif").contains("format\tavif"))
        #expect(try daemon.ask("INFO \(art.path)/p0-jp2.jp2").contains("format\tjp2"))
        #expect(try daemon.ask("INFO \(art.path)/p0-dng.dng").contains("format\traw"))

        // Each file's nearest other file is a copy of its own picture, in the fused ranking and
        // in the CNN space alone.
        var misses: [String] = []
        for number in pictures.indices {
            for (ext, _) in Self.formats {
                for space in ["fused", "cnn"] {
                    let answer = try daemon.ask("SIMILAR \(art.path)/p\(number)-\(ext).\(ext) k=1 space=\(space)")
                    let first = answer.dropFirst().first?.split(separator: "\t")[3] ?? ""
                    if !first.hasPrefix("\(art.path)/p\(number)-") {
                        misses.append("\(space) p\(number).\(ext) → \(first)")
                    }
                }
            }
        }
        #expect(misses.isEmpty, "\(misses)")
        #expect(try daemon.ask("PING") == ["OK 1", "pong"])
        #expect(try daemon.stop().status == 0)
    }
}
