import Foundation
import KindredCore

public struct DecodeOptions: Sendable {
    /// Decoders shrink (never enlarge) toward this shorter side, cheaply where the format allows.
    public var targetShortSide = 256
    /// The most pixels held in memory at once (JPEG after DCT scaling, WebP after scaling,
    /// interlaced PNG).
    public var pixelLimit = 150_000_000
    /// The most pixels a non-interlaced PNG may stream through (memory stays a few rows; this
    /// bounds the time a decompression bomb can take).
    public var streamedPixelLimit = 1_000_000_000
    /// Files larger than this are refused before reading.
    public var maxFileBytes = 1 << 30

    public init() {}
}

/// Decodes JPEG, PNG and WebP files, recognised by content rather than name. Every failure is an
/// `ImageError` naming the file and the reason; no input crashes the process.
public enum ImageDecoder {
    public static func decode(file url: URL, options: DecodeOptions = DecodeOptions()) throws(ImageError) -> DecodedImage {
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImageError(path: path, kind: .unreadable, reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw ImageError(path: path, kind: .unreadable, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw ImageError(path: path, kind: .corrupt, reason: "empty file (0 bytes)") }
        guard size <= options.maxFileBytes else {
            throw ImageError(path: path, kind: .tooLarge, reason: "file of \(size) bytes exceeds the \(options.maxFileBytes >> 20) MiB limit")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        let read = bytes.withUnsafeMutableBytes { FileIO.read(fd, into: $0) }
        guard read == size else {
            throw ImageError(path: path, kind: .unreadable, reason: read < 0 ? "read failed: \(String(cString: strerror(errno)))" : "read failed after \(read) bytes: file shrank")
        }
        // Array's buffer accessors rethrow untyped errors; decode throws only ImageError.
        do { return try bytes.withUnsafeBytes { try decode($0, path: path, options: options) } } catch { throw error as! ImageError }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions = DecodeOptions()) throws(ImageError) -> DecodedImage {
        guard !bytes.isEmpty else { throw ImageError(path: path, kind: .corrupt, reason: "empty file (0 bytes)") }
        guard let format = ImageFormat.sniff(bytes) else {
            throw ImageError(path: path, kind: .unsupportedFormat, reason: "not a JPEG, PNG or WebP file (unrecognised content)")
        }
        switch format {
        case .jpeg: return try JPEGDecoder.decode(bytes, path: path, targetShortSide: options.targetShortSide, pixelLimit: options.pixelLimit)
        case .png: return try PNGDecoder.decode(bytes, path: path, options: options)
        case .webp: return try WebPDecoder.decode(bytes, path: path, options: options)
        }
    }
}
