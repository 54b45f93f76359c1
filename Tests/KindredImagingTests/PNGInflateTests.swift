import Foundation
import KindredTestSupport
import Testing

@testable import KindredImaging

/// `InflatingPNGStream` only speeds decoding up: every file, sound or damaged, decodes to the
/// same pixels or fails with the same error as through libspng and zlib alone.
@Suite struct PNGInflateTests {
    enum Outcome: Equatable {
        case decoded(RGBImage, width: Int, height: Int, profile: [UInt8]?)
        case failed(ImageError.Kind, String)
    }

    func outcome(_ bytes: [UInt8], inflatingFirst: Bool, target: Int = 10_000) -> Outcome {
        var options = DecodeOptions()
        options.targetShortSide = target
        do {
            let decoded = try bytes.withUnsafeBytes { raw throws(ImageError) in
                try PNGDecoder.decode(raw, path: "p.png", options: options, inflatingFirst: inflatingFirst)
            }
            return .decoded(
                decoded.image, width: decoded.originalWidth, height: decoded.originalHeight,
                profile: decoded.embeddedProfile)
        } catch let error as ImageError {
            return .failed(error.kind, error.reason)
        } catch {
            return .failed(.unreadable, "not an ImageError: \(error)")
        }
    }

    func expectSameByBothRoutes(
        _ bytes: [UInt8], _ label: String, target: Int = 10_000, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let fast = outcome(bytes, inflatingFirst: true, target: target)
        let plain = outcome(bytes, inflatingFirst: false, target: target)
        #expect(fast == plain, "\(label)", sourceLocation: sourceLocation)
    }

    func taken(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { InflatingPNGStream($0) { _, _ in true } != nil }
    }

    // MARK: chunk surgery

    typealias Chunk = (type: String, data: [UInt8])

    func chunks(_ png: [UInt8]) -> [Chunk] {
        var result: [Chunk] = [], at = 8
        while at + 12 <= png.count {
            let length = png[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
            let type = String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self)
            result.append((type, Array(png[(at + 8)..<(at + 8 + length)])))
            at += 12 + length
        }
        return result
    }

    /// The chunks as a PNG, each with its correct CRC.
    func assemble(_ chunks: [Chunk]) -> [UInt8] {
        var png: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        func be32(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
        for chunk in chunks {
            let body = Array(chunk.type.utf8) + chunk.data
            png += be32(UInt32(chunk.data.count)) + body + be32(Fixtures.crc32(body[...]))
        }
        return png
    }

    /// The image data, re-cut into IDAT chunks of the given sizes in turn (the last size repeats).
    func recut(_ png: [UInt8], sizes: [Int]) -> [UInt8] {
        let all = chunks(png)
        let data = all.filter { $0.type == "IDAT" }.flatMap(\.data)
        var pieces: [Chunk] = [], at = 0, n = 0
        while at < data.count {
            let size = min(sizes[min(n, sizes.count - 1)], data.count - at)
            pieces.append(("IDAT", Array(data[at..<(at + size)])))
            (at, n) = (at + size, n + 1)
        }
        let (first, last) = (all.firstIndex { $0.type == "IDAT" }!, all.lastIndex { $0.type == "IDAT" }!)
        return assemble(Array(all[..<first]) + pieces + all[(last + 1)...])
    }

    /// The PNG with its image data replaced, chunked as one IDAT.
    func withImageData(_ png: [UInt8], _ change: ([UInt8]) -> [UInt8]) -> [UInt8] {
        let all = chunks(png)
        let data = change(all.filter { $0.type == "IDAT" }.flatMap(\.data))
        let first = all.firstIndex { $0.type == "IDAT" }!
        return assemble(Array(all[..<first]) + [("IDAT", data)] + all[first...].filter { $0.type != "IDAT" })
    }

    /// The PNG with IHDR's height changed (its CRC made right again).
    func claimingHeight(_ png: [UInt8], _ height: UInt32) -> [UInt8] {
        var all = chunks(png)
        for (i, shift) in [24, 16, 8, 0].enumerated() {
            all[0].data[4 + i] = UInt8(truncatingIfNeeded: height >> shift)
        }
        return assemble(all)
    }

    // MARK: tests

    @Test func soundFilesDecodeAlikeByBothRoutes() {
        let small = Fixtures.pattern(width: 320, height: 240)
        // 700 × 500 RGBA is 1.4 MB of rows: 22 stored blocks, the last a part block.
        let large = Fixtures.pattern(width: 700, height: 500)
        var files: [(String, [UInt8])] = [
            ("rgba8 large", Fixtures.png(large, kind: .rgba8)), ("rgb8 large", Fixtures.png(large, kind: .rgb8)),
            ("with an ICC profile", Fixtures.png(small, kind: .rgb8, iccProfile: Fixtures.displayP3Profile)),
            ("one pixel", Fixtures.png(Fixtures.pattern(width: 1, height: 1), kind: .rgba8)),
        ]
        for kind in [Fixtures.PNGKind.rgb8, .rgba8, .gray8, .gray16, .rgb16, .palette, .interlaced] {
            files.append(("\(kind)", Fixtures.png(small, kind: kind)))
        }
        for bits: UInt8 in [1, 2, 4] { files.append(("gray \(bits)-bit", Fixtures.lowDepthGrayPNG(small, bits: bits))) }
        let rgba = Fixtures.png(large, kind: .rgba8)
        files.append(("IDAT in 1-byte chunks, then 7", recut(rgba, sizes: [1, 1, 1, 7])))
        files.append(("IDAT in 1,000-byte chunks", recut(rgba, sizes: [1000])))
        files.append(("an empty IDAT among them", recut(rgba, sizes: [500, 0, 4000])))
        for (label, bytes) in files {
            #expect(taken(bytes) == (label != "interlaced"), "\(label): the inflating route is taken")
            expectSameByBothRoutes(bytes, label)
            expectSameByBothRoutes(bytes, label + ", shrunk", target: 37)
        }
    }

    @Test func damagedFilesFailOrDecodeAlikeByBothRoutes() throws {
        // 200 rows of 1 + 300 × 4 bytes: 240,200 bytes, four stored blocks.
        let png = Fixtures.png(Fixtures.pattern(width: 300, height: 200), kind: .rgba8)
        var damaged: [(String, [UInt8])] = []
        // Cut short anywhere.
        for cut in stride(from: 1, to: png.count, by: max(1, png.count / 50)) {
            damaged.append(("cut at \(cut)", Array(png[..<cut])))
        }
        // Image data damaged under a correct CRC, so only the zlib stream can tell.
        for at in [2, 3, 40, 500] {
            damaged.append(
                (
                    "byte \(at) of the zlib stream flipped",
                    withImageData(png) { data in
                        var data = data
                        data[at] ^= 0x5A
                        return data
                    }
                ))
        }
        damaged.append(
            (
                "Adler-32 wrong",
                withImageData(png) { data in
                    var data = data
                    data[data.count - 1] ^= 0x01
                    return data
                }
            ))
        damaged.append(("bytes after the zlib stream", withImageData(png) { $0 + [1, 2, 3, 4, 5] }))
        damaged.append(("zlib stream cut before its end", withImageData(png) { Array($0.dropLast(9)) }))
        damaged.append(
            (
                "preset dictionary flag",
                withImageData(png) { data in
                    var data = data
                    let check = (31 - (Int(data[0]) * 256 + 0x20) % 31) % 31  // keeps the header a multiple of 31
                    data[1] = UInt8(0x20 + check)
                    return data
                }
            ))
        // Rows that do not match the header's size.
        damaged.append(("a row fewer than the header claims", claimingHeight(png, 201)))
        damaged.append(("a row more than the header claims", claimingHeight(png, 199)))
        // A bad CRC: on the image data, on an ancillary chunk (libspng drops such a chunk).
        var crc = png
        crc[crc.count - 14] ^= 0x01
        damaged.append(("IDAT's CRC wrong", crc))
        var text = chunks(png)
        text.insert(("tEXt", Array("Comment\u{0}hello".utf8)), at: 1)
        var badText = assemble(text)
        badText[8 + 25 + 8 + 8] ^= 0x01
        damaged.append(("an ancillary chunk's CRC wrong", badText))
        // IDAT chunks with another between them.
        var split = chunks(recut(png, sizes: [2000]))
        split.insert(("tEXt", Array("Comment\u{0}between".utf8)), at: 3)
        damaged.append(("IDATs not consecutive", assemble(split)))
        damaged.append(("no IEND", assemble(chunks(png).dropLast())))
        damaged.append(("junk after IEND", png + Array("junk".utf8)))
        for (label, bytes) in damaged { expectSameByBothRoutes(bytes, label) }
        // And the route is still taken for what it can take: the outcome is libspng's alone.
        #expect(!taken(crc) && !taken(badText) && taken(claimingHeight(png, 201)))
    }
}
