import Foundation
import KindredTestSupport
import Testing

@testable import KindredImaging

/// Camera RAW files are decoded by a child (`kindred-decode`): a file that kills LibRaw, and a
/// child that hangs, overruns, lies or is missing, each end in a specific `ImageError` in the
/// parent, which goes on decoding.
@Suite struct DecoderProcessTests {
    /// Found by the RAW fuzz target: LibRaw 0.20's TIFF parser overflows a buffer on it (glibc
    /// aborts the process; under AddressSanitizer it is a SEGV).
    @Test func aFileThatKillsLibRawIsRefusedAndTheParentGoesOn() throws {
        let crash = try [UInt8](
            Data(contentsOf: packageRoot.appendingPathComponent("Tests/FuzzCorpus/fuzz-raw/libraw-crash-hasselblad")))
        #expect { try decode(crash, "hasselblad.3fr") } throws: { error in
            let error = error as! ImageError
            return error.kind == .corrupt && error.reason.contains("raw decoder process: died of signal")
                && error.path.hasSuffix("hasselblad.3fr")
        }
        // The same parent decodes the next RAW file.
        let next = try decode(Fixtures.dng(Fixtures.pattern(width: 96, height: 64)), "next.dng")
        #expect(next.format == .raw && next.originalWidth == 96)
    }

    /// Found by the HEIF fuzz target: libheif 1.15.1-1+deb12u1 recurses until the stack runs out
    /// on a grid image that names itself, and the child dies of SIGSEGV; Debian's security update
    /// (1.15.1-1+deb12u2) reports the reference cycle instead. Either way the parent refuses the
    /// file as corrupt and goes on. (A child that dies of a signal is refused the same way,
    /// whatever libheif does: `aChildThatFailsOrRepliesTooMuchIsRefused`.)
    @Test func aFileThatKillsLibheifIsRefusedAndTheParentGoesOn() throws {
        let crash = try [UInt8](
            Data(
                contentsOf: packageRoot.appendingPathComponent(
                    "Tests/FuzzCorpus/fuzz-heif/libheif-crash-self-grid.heic")))
        #expect { try decode(crash, "self-grid.heic") } throws: { error in
            let error = error as! ImageError
            let refused =
                error.reason.contains("heic decoder process: died of signal")
                || error.reason.contains("Image reference cycle")
            return error.kind == .corrupt && refused && error.path.hasSuffix("self-grid.heic")
        }
        let next = try [UInt8](
            Data(contentsOf: packageRoot.appendingPathComponent("Tests/FuzzCorpus/fuzz-heif/rgb.heic")))
        #expect(try decode(next, "next.heic").format == .heic)
    }

    /// TIFF (libtiff) and JPEG 2000 (OpenJPEG) are decoded in the child too: with a child that
    /// dies at once, a TIFF, a BigTIFF and a JPEG 2000 file are each refused naming the child's
    /// death, while a PNG (in-process) still decodes. The real child decodes them as before.
    @Test func tiffAndJPEG2000AreDecodedInAChild() throws {
        let picture = Fixtures.pattern(width: 48, height: 32)
        let jp2 = try [UInt8](
            Data(contentsOf: packageRoot.appendingPathComponent("Tests/FuzzCorpus/fuzz-jpeg2000/rgb-lossless.jp2")))
        let files: [(bytes: [UInt8], name: String, format: String)] = [
            (Fixtures.tiff([picture]), "scan.tif", "tiff"),
            (Fixtures.tiff([picture], kind: .bigTIFF), "big.tif", "tiff"),
            (jp2, "scan.jp2", "jp2"),
        ]
        var dying = DecodeOptions()
        dying.decoderProcess = try fakeChild("kill -SEGV $$")
        for file in files {
            #expect {
                try file.bytes.withUnsafeBytes { try ImageDecoder.decode($0, path: file.name, options: dying) }
            } throws: { error in
                let error = error as! ImageError
                return error.kind == .corrupt
                    && error.reason.contains("\(file.format) decoder process: died of signal 11")
                    && error.path == file.name
            }
            let decoded = try file.bytes.withUnsafeBytes { try ImageDecoder.decode($0, path: file.name) }
            #expect(decoded.format.rawValue == file.format && decoded.originalWidth > 0, "\(file.name)")
        }
        let png = Fixtures.png(picture, kind: .rgb8)
        let decoded = try png.withUnsafeBytes { try ImageDecoder.decode($0, path: "in-process.png", options: dying) }
        #expect(decoded.image.width == 48)
    }

    /// The child's own errors come back with their kind and the parent's path.
    @Test func theChildsErrorsKeepTheirKind() throws {
        var options = DecodeOptions()
        options.pixelLimit = 1000
        let bytes = Fixtures.dng(Fixtures.pattern(width: 96, height: 64))
        #expect {
            try bytes.withUnsafeBytes { try ImageDecoder.decode($0, path: "/photos/small-limit.dng", options: options) }
        } throws: { error in
            let error = error as! ImageError
            return error.kind == .tooLarge && error.path == "/photos/small-limit.dng"
        }
    }

    @Test func aHangingChildIsKilledAtItsLimit() throws {
        var options = DecodeOptions()
        options.decoderProcess = try fakeChild("exec sleep 60")
        options.decoderProcess.secondsLimit = 1
        let start = ContinuousClock.now
        expectRefusal(options, containing: "killed after 1 s")
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func aChildThatFailsOrRepliesTooMuchIsRefused() throws {
        var options = DecodeOptions()
        options.decoderProcess = try fakeChild("exit 3")
        expectRefusal(options, containing: "exited with status 3")
        // A process the child started holds its output open; the child's exit still ends the wait.
        options.decoderProcess = try fakeChild("sleep 60 & exit 4")
        let start = ContinuousClock.now
        expectRefusal(options, containing: "exited with status 4")
        #expect(ContinuousClock.now - start < .seconds(10))
        options.decoderProcess = try fakeChild("kill -SEGV $$")
        expectRefusal(options, containing: "died of signal 11")
        options.decoderProcess = try fakeChild("exec cat /dev/zero")
        options.pixelLimit = 1000
        expectRefusal(options, containing: "reply longer than")
    }

    /// Replies that break the format, each refused by the field it breaks.
    @Test func malformedRepliesAreRefused() throws {
        let image = DecodedImage(
            image: RGBImage(width: 2, height: 2), format: .raw, originalWidth: 40, originalHeight: 40,
            embeddedProfile: [1, 2, 3])
        let good = Reply.encode(image)
        let sizeAt = Reply.magic.count + 8  // the width, after the outcome
        var huge = good
        huge.replaceSubrange(sizeAt..<(sizeAt + 8), with: withUnsafeBytes(of: Int64(1 << 40).littleEndian, Array.init))
        var unknownKind = Reply.encode(ImageError(path: "", kind: .corrupt, reason: "bad"))
        let kindAt = Reply.magic.count + 16
        unknownKind[kindAt] = UInt8(ascii: "k")
        for (reply, field) in [
            (Array("garbage".utf8), "magic"), (Array(good.dropLast(4)), "embedded profile"),
            (good + [0], "bytes after the end"),
            (huge, "width"), (Array(good.prefix(Reply.magic.count + 8)) + [0xFF], "sizes"),
            (unknownKind, "error kind"), (Reply.magic + [2, 0, 0, 0, 0, 0, 0, 0], "outcome"),
        ] {
            #expect("\(field)") {
                try Reply.decode(reply, format: .raw, options: DecodeOptions(), input: 100, path: "x")
            } throws: { error in
                let error = error as! ImageError
                return error.kind == .corrupt && error.reason.contains("malformed reply (\(field)")
            }
        }
        // The well-formed reply comes back whole.
        let back = try Reply.decode(good, format: .raw, options: DecodeOptions(), input: 100, path: "x")
        #expect(back.image == image.image && back.originalWidth == 40 && back.embeddedProfile == [1, 2, 3])
    }

    /// With no child installed, a RAW file is refused as unsupported, naming what is missing.
    @Test func aMissingChild() throws {
        var options = DecodeOptions()
        options.decoderProcess = DecoderProcess(executable: "/nonexistent/kindred-decode")
        let dng = Fixtures.dng(Fixtures.pattern(width: 96, height: 64))
        #expect {
            try dng.withUnsafeBytes { try ImageDecoder.decode($0, path: "a.dng", options: options) }
        } throws: { error in
            let error = error as! ImageError
            return error.kind == .unsupportedFormat && error.reason.contains("/nonexistent/kindred-decode")
        }
    }

    /// Decoding a small DNG under `options` must fail with a reason containing `text`.
    private func expectRefusal(_ options: DecodeOptions, containing text: String) {
        let bytes = Fixtures.dng(Fixtures.pattern(width: 96, height: 64))
        #expect {
            try bytes.withUnsafeBytes { try ImageDecoder.decode($0, path: "f.dng", options: options) }
        } throws: { error in
            let error = error as! ImageError
            return error.kind == .corrupt && error.reason.contains(text) && error.path == "f.dng"
        }
    }

    /// A shell script standing in for `kindred-decode`.
    private func fakeChild(_ body: String) throws -> DecoderProcess {
        let url = temporaryDirectory("fake-decoder").appendingPathComponent("kindred-decode")
        // Written through a close-on-exec descriptor: a process other tests start meanwhile must
        // not inherit it, or executing the script fails with ETXTBSY.
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        try #require(fd >= 0)
        let script = Array("#!/bin/sh\n\(body)\n".utf8)
        #expect(write(fd, script, script.count) == script.count)
        close(fd)
        return DecoderProcess(executable: url.path)
    }
}
