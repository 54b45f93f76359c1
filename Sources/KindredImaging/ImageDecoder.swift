import Foundation
import KindredCore

/// How large an image may be, and how far it is shrunk. This is the one owner of the size rules:
/// every decoder asks `admit` before allocating anything a header's numbers size, and `outputSize`
/// for what it produces, so a header can only ever be refused, never trusted.
public struct DecodeOptions: Sendable {
    /// Decoders shrink (never enlarge) toward this shorter side, cheaply where the format allows.
    public var targetShortSide = 256
    /// The longest side of a decoded image. An extreme aspect ratio (a 1,000,000 × 1 strip)
    /// would otherwise keep its long side at full size while the short side meets the target.
    public var maxOutputSide = 4096
    /// The longest side a header may claim. Row buffers and resampler weights scale with it.
    public var maxSide = 1 << 18
    /// The most pixels held in memory at once (JPEG after DCT scaling, WebP after scaling,
    /// interlaced PNG).
    public var pixelLimit = 150_000_000
    /// The most pixels a file may claim in all: what a streamed decode reads through (memory stays
    /// a few rows; this bounds the time a decompression bomb can take).
    public var streamedPixelLimit = 1_000_000_000
    /// Files larger than this are refused before reading.
    public var maxFileBytes = 1 << 30
    /// Whether pixels are converted to sRGB from the ICC profile a file embeds (and CMYK through
    /// the default CMYK profile). Off only to measure what the conversion changes: CMYK then
    /// gets the naive ink inversion and RGB is taken as stored.
    public var managesColour = true
    /// The child process that decodes the formats whose libraries are not trusted in-process
    /// (camera RAW).
    public var decoderProcess = DecoderProcess.besideExecutable

    public init() {}

    /// Refuses a claimed size before anything is allocated for it: zero or negative sides, a side
    /// over `maxSide`, more than `streamedPixelLimit` pixels in all, or (for an image decoded whole)
    /// more than `pixelLimit` pixels held at once, counted as RGB: a decoder that holds
    /// `bytesPerPixel` bytes a pixel (OpenJPEG's 32-bit samples) gets the same byte budget.
    public func admit(
        width: Int, height: Int, heldWhole: Bool = false, bytesPerPixel: Int = 3, path: String
    ) throws(ImageError) {
        guard width > 0, height > 0 else {
            throw ImageError(path: path, kind: .corrupt, reason: "header gives size \(width)×\(height)")
        }
        guard width <= maxSide, height <= maxSide else {
            throw ImageError(
                path: path, kind: .tooLarge, reason: "image \(width)×\(height) exceeds the \(maxSide)-pixel side limit")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        let limit = heldWhole ? pixelLimit * 3 / max(3, bytesPerPixel) : streamedPixelLimit
        guard !overflow, pixels <= limit else {
            throw ImageError(
                path: path, kind: .tooLarge,
                reason: "image \(width)×\(height) exceeds pixel limit \(limit / 1_000_000) MP")
        }
    }

    /// The size an admitted image is shrunk to: the shorter side toward `targetShortSide`, the
    /// longer side at most `maxOutputSide`, never larger than the input on either axis.
    public func outputSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let scale = min(
            1, Double(targetShortSide) / Double(min(width, height)), Double(maxOutputSide) / Double(max(width, height)))
        return (
            min(width, max(1, Int((Double(width) * scale).rounded()))),
            min(height, max(1, Int((Double(height) * scale).rounded())))
        )
    }
}

/// Decodes JPEG, PNG, WebP, TIFF, GIF, BMP, HEIC, AVIF, JPEG 2000 and camera RAW files, recognised by content rather than name. Every failure is an
/// `ImageError` naming the file and the reason; no input crashes the process.
public enum ImageDecoder {
    /// Reads the file (`ImageFile`: at most `options.maxFileBytes`) and decodes it.
    public static func decode(
        file url: URL, options: DecodeOptions = DecodeOptions()
    ) throws(ImageError) -> DecodedImage {
        try ImageFile(path: url.path, options: options).decode(options: options)
    }

    public static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions = DecodeOptions()
    ) throws(ImageError) -> DecodedImage {
        try decode(bytes, path: path, options: options, source: nil)
    }

    /// `source`: an open regular file `bytes` were read from, which a decoder child can read
    /// itself instead of being handed a copy.
    static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions, source: Int32?
    ) throws(ImageError) -> DecodedImage {
        guard !bytes.isEmpty else { throw ImageError(path: path, kind: .corrupt, reason: "empty file (0 bytes)") }
        guard let format = ImageFormat.sniff(bytes) else {
            throw ImageError(path: path, kind: .unsupportedFormat, reason: ImageFormat.unrecognisedReason)
        }
        var decoded = try decodeAsStored(bytes, format: format, path: path, options: options, source: source)
        convertToSRGB(&decoded, options: options)
        return decoded
    }

    /// Converts an image from the profile its file embeds (LittleCMS parses the profile here, in
    /// this process, whichever process decoded the pixels).
    @_spi(Fuzzing) public static func convertToSRGB(_ decoded: inout DecodedImage, options: DecodeOptions) {
        if options.managesColour, let profile = decoded.embeddedProfile {
            decoded.colourProfile = ColourManagement.convertToSRGB(&decoded.image, profile: profile)
            decoded.embeddedProfile = nil
        }
    }

    /// The file's pixels in its own RGB space (CMYK is converted by its decoder, before shrinking),
    /// with the ICC profile it embeds (JPEG, PNG, WebP, TIFF, BMP version 5, HEIF, JPEG 2000).
    private static func decodeAsStored(
        _ bytes: UnsafeRawBufferPointer, format: ImageFormat, path: String, options: DecodeOptions, source: Int32?
    ) throws(ImageError) -> DecodedImage {
        func inChild(_ format: ImageFormat) throws(ImageError) -> DecodedImage {
            try options.decoderProcess.decode(bytes, format: format, path: path, options: options, source: source)
        }
        switch format {
        case .jpeg: return try JPEGDecoder.decode(bytes, path: path, options: options)
        case .png: return try PNGDecoder.decode(bytes, path: path, options: options)
        case .webp: return try WebPDecoder.decode(bytes, path: path, options: options)
        case .gif: return try GIFDecoder.decode(bytes, path: path, options: options)
        case .bmp: return try BMPDecoder.decode(bytes, path: path, options: options)
        case .tiff:
            // A camera's TIFF-based RAW file is LibRaw's; an ordinary TIFF that looked like one
            // (a camera maker's name in it) is libtiff's after all. Both run in a child.
            guard RAWDecoder.mayBeRAW(bytes) else { return try inChild(.tiff) }
            do { return try inChild(.raw) } catch
                where error.kind == .unsupportedFormat && options.decoderProcess.isInstalled
            {
                return try inChild(.tiff)
            }
        case .raw, .heic, .avif, .jp2: return try inChild(format)
        }
    }
}
