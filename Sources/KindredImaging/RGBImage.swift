/// An 8-bit RGB image, rows top to bottom, 3 bytes a pixel.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "\(pixels.count) bytes for \(width)×\(height) RGB")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }
}

/// What a decode produced, and what the file said about itself.
public struct DecodedImage: Sendable {
    /// Scaled so its shorter side is at least the requested size, when the file allowed it.
    public var image: RGBImage
    public var format: ImageFormat
    /// The size stored in the file, after EXIF orientation.
    public var originalWidth: Int
    public var originalHeight: Int
    /// The ICC profile the pixels were converted to sRGB from (its description), or nil when they
    /// were taken as sRGB already.
    public var colourProfile: String? = nil
    /// An RGB file's embedded ICC profile, which `ImageDecoder` converts from once the decoder
    /// has shrunk the image (converting 256 × 341 pixels rather than the file's millions).
    var embeddedProfile: [UInt8]? = nil
    /// Of the decode's time, what the streaming area resampler took (`PipelineStage.resample`);
    /// zero when the library shrank the picture itself or a decoder child decoded it.
    public var resampleTime = Duration.zero
}

public enum ImageFormat: String, Sendable {
    /// `jp2` is JPEG 2000, as JP2 boxes or a raw J2K codestream; `raw` a camera's RAW file.
    case jpeg, png, webp, tiff, gif, bmp, heic, avif, jp2, raw

    /// Why a file that is none of these is refused.
    public static let unrecognisedReason =
        "not a JPEG, PNG, WebP, TIFF, GIF, BMP, HEIC, AVIF, JPEG 2000 or camera RAW file (unrecognised content)"

    /// Recognises a format by its first bytes, whatever the file is called.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if bytes.count >= 12, Array(bytes[0..<4]) == Array("RIFF".utf8), Array(bytes[8..<12]) == Array("WEBP".utf8) {
            return .webp
        }
        if bytes.count >= 4 {
            let head = Array(bytes[0..<4])
            // Classic TIFF (42) and BigTIFF (43), little- and big-endian.
            if head == [0x49, 0x49, 0x2A, 0x00] || head == [0x4D, 0x4D, 0x00, 0x2A] || head == [0x49, 0x49, 0x2B, 0x00]
                || head == [0x4D, 0x4D, 0x00, 0x2B]
            {
                return .tiff
            }
        }
        if bytes.count >= 6, Array(bytes[0..<6]) == Array("GIF87a".utf8) || Array(bytes[0..<6]) == Array("GIF89a".utf8)
        {
            return .gif
        }
        if bytes.count >= 2, bytes[0] == 0x42, bytes[1] == 0x4D { return .bmp }
        // JPEG 2000: the JP2 signature box, or a raw codestream's SOC and SIZ markers.
        if bytes.count >= 12, Array(bytes[0..<12]) == [0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A] {
            return .jp2
        }
        if bytes.count >= 4, Array(bytes[0..<4]) == [0xFF, 0x4F, 0xFF, 0x51] { return .jp2 }
        if rawContainer(bytes) { return .raw }
        return heif(bytes)
    }

    /// The RAW containers that are not TIFF: Fujifilm RAF, Olympus ORF, Panasonic RW2, Minolta
    /// MRW, Sigma X3F, and Canon CR3 (an ISO media file of brand `crx `). TIFF-based RAW files
    /// sniff as TIFF; `RAWDecoder.mayBeRAW` picks them out.
    private static func rawContainer(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let signatures: [[UInt8]] = [
            Array("FUJIFILMCCD-RAW".utf8), Array("IIRO".utf8), Array("IIRS".utf8), Array("MMOR".utf8),
            [0x49, 0x49, 0x55, 0x00], [0x00] + Array("MRM".utf8), Array("FOVb".utf8),
        ]
        if signatures.contains(where: { bytes.starts(with: $0) }) { return true }
        return bytes.count >= 12 && bytes[4..<12].elementsEqual("ftypcrx ".utf8)
    }

    /// HEIF's ISO media box `ftyp` first: `avif`/`avis` brands are AVIF, the HEVC ones HEIC; a
    /// file whose major brand is the generic `mif1`/`msf1` is told by its compatible brands.
    private static func heif(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        guard bytes.count >= 16, Array(bytes[4..<8]) == Array("ftyp".utf8) else { return nil }
        let size = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard size >= 16 else { return nil }
        let end = min(size, bytes.count, 256)
        var brands = [String(decoding: bytes[8..<12], as: UTF8.self)]
        for offset in stride(from: 16, to: end - 3, by: 4) {
            brands.append(String(decoding: bytes[offset..<offset + 4], as: UTF8.self))
        }
        if brands.contains(where: { $0 == "avif" || $0 == "avis" }) { return .avif }
        let hevc: Set = ["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"]
        if brands.contains(where: hevc.contains) { return .heic }
        return nil
    }
}
