import Foundation
import KindredImaging
import KindredProtocol
import KindredTestSupport
import Testing

/// Broken, hostile and unusual files dropped into a watched root: each ends as a correct index
/// entry or a failure with its reason in ERRORS, kindredd stays up, and its memory stays bounded.
@Suite(.serialized) struct HostileFilesTests {
    let root = temporaryDirectory("hostile")

    @Test func everyFileEndsIndexedOrExplainedAndTheDaemonStaysUp() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        try FileManager.default.createDirectory(at: art, withIntermediateDirectories: true)
        let picture = composition(width: 320, height: 240, seed: 9)
        func put(_ name: String, _ bytes: [UInt8]) throws {
            try Data(bytes).write(to: art.appendingPathComponent(name))
        }
        // Unusual but valid: indexed.
        try put("deep16.png", Fixtures.png(picture, kind: .rgb16))
        try put("gray16.png", Fixtures.png(picture, kind: .gray16))
        try put("palette.png", Fixtures.png(picture, kind: .palette))
        try put("interlaced.png", Fixtures.png(picture, kind: .interlaced))
        try put("cmyk.jpg", Fixtures.jpeg(picture, kind: .cmyk))
        try put("progressive.jpg", Fixtures.jpeg(picture, kind: .progressive))
        try put("animated.webp", Fixtures.animatedWebP([picture, composition(width: 320, height: 240, seed: 10)]))
        try put("png-named.jpg", Fixtures.png(picture, kind: .rgb8))  // the content decides, not the name
        try put("unreadable.png", Fixtures.png(picture, kind: .rgb8))
        chmod(art.appendingPathComponent("unreadable.png").path, 0)
        // Broken: failed, with the reason.
        let jpeg = Fixtures.jpeg(picture)
        var badCRC = Fixtures.png(picture, kind: .rgb8)
        badCRC[badCRC.count / 2] ^= 0xFF
        let broken: [(String, [UInt8], String)] = [
            ("empty.jpg", [], "empty file"),
            (
                "random.png", (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) },
                ImageFormat.unrecognisedReason
            ),
            ("cut-200.jpg", Array(jpeg.prefix(200)), "corrupt JPEG"),
            ("cut-2000.jpg", Array(jpeg.prefix(2000)), "truncated JPEG"),
            ("cut-half.jpg", Array(jpeg.prefix(jpeg.count / 2)), "truncated JPEG"),
            ("huge.jpg", Fixtures.jpegClaiming(width: 65535, height: 65535), "65500 pixels"),
            ("huge.png", Fixtures.pngClaiming(width: 100_000, height: 100_000), "exceeds pixel limit"),
            ("bad-crc.png", badCRC, "corrupt PNG"),
            // A name holding "\r\n" and a forged answer line: its row in ERRORS stays one row.
            ("crlf\r\nOK 0\r\nforged.jpg", Array(jpeg.prefix(3000)), "truncated JPEG"),
            // A file that aborts LibRaw (found by fuzz-raw): the child decoding it dies, not kindredd.
            (
                "libraw-crash.3fr",
                try [UInt8](
                    Data(
                        contentsOf: packageRoot.appendingPathComponent(
                            "Tests/FuzzCorpus/fuzz-raw/libraw-crash-hasselblad"))),
                "raw decoder process: died of signal"
            ),
            // Over `[ingest] max_file_bytes` (1 GiB): refused before it is read, so it costs no memory.
            ("oversized.png", Fixtures.png(picture, kind: .rgb8), "exceeds the 1024 MiB limit"),
        ]
        for (name, bytes, _) in broken { try put(name, bytes) }
        // Sparse: 2 GiB on the file system's books, nothing on its disk.
        let oversized = try FileHandle(forWritingTo: art.appendingPathComponent("oversized.png"))
        try oversized.truncate(atOffset: 2 << 30)
        try oversized.close()
        // A loop of symbolic links: neither indexed nor failed (they resolve to nothing).
        try FileManager.default.createSymbolicLink(
            atPath: art.appendingPathComponent("loop-a.jpg").path,
            withDestinationPath: art.appendingPathComponent("loop-b.jpg").path)
        try FileManager.default.createSymbolicLink(
            atPath: art.appendingPathComponent("loop-b.jpg").path,
            withDestinationPath: art.appendingPathComponent("loop-a.jpg").path)

        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        try daemon.start()
        // Root reads a mode-000 file anyway; anyone else gets a permission error for it.
        let unreadableIndexed = getuid() == 0
        try daemon.waitUntilIdle(
            indexed: 8 + (unreadableIndexed ? 1 : 0), failed: broken.count + (unreadableIndexed ? 0 : 1))
        let errors = Dictionary(
            uniqueKeysWithValues: try daemon.ask("ERRORS").dropFirst().map {
                let fields = ResponseEncoder.fields($0)
                return (URL(fileURLWithPath: fields[0]).lastPathComponent, fields[1])
            })
        for (name, _, fragment) in broken {
            #expect(
                errors[name].map { !$0.isEmpty && (fragment.isEmpty || $0.contains(fragment)) } == true,
                "\(name): \(errors[name] ?? "not in ERRORS")")
        }
        #expect(errors["loop-a.jpg"] == nil && errors["loop-b.jpg"] == nil)

        // A file written in two parts, a second apart: read once, whole (the settle delay).
        let slow = art.appendingPathComponent("slow.jpg")
        let handle = try FileHandle(
            forWritingTo: {
                FileManager.default.createFile(atPath: slow.path, contents: nil); return slow
            }())
        let whole = Fixtures.jpeg(composition(width: 300, height: 200, seed: 12))
        handle.write(Data(whole.prefix(whole.count / 2)))
        Thread.sleep(forTimeInterval: 0.05)
        handle.write(Data(whole.dropFirst(whole.count / 2)))
        try handle.close()
        // A file that is gone before it could be read.
        try put("fleeting.jpg", jpeg)
        try FileManager.default.removeItem(at: art.appendingPathComponent("fleeting.jpg"))
        try daemon.waitUntilIdle(
            indexed: 9 + (unreadableIndexed ? 1 : 0), failed: broken.count + (unreadableIndexed ? 0 : 1))
        #expect(try daemon.ask("INFO \(slow.path)").contains("status\tindexed"))
        #expect(try daemon.ask("INFO \(art.path)/fleeting.jpg")[0].hasPrefix("ERR not-found"))

        // Alive, answering, and within a memory bound.
        #expect(try daemon.ask("PING") == ["OK 1", "pong"])
        let status =
            (try? String(contentsOfFile: "/proc/\(daemon.process!.processIdentifier)/status", encoding: .utf8)) ?? ""
        let peak =
            Int(
                status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first
                    ?? "0") ?? 0
        #expect(peak / 1024 < 600, "peak resident \(peak / 1024) MB")
        print(
            "hostile files: peak resident \(peak / 1024) MB; reasons: \(errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))"
        )
        #expect(try daemon.stop().status == 0)
    }
}
