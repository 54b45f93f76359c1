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
}

public enum ImageFormat: String, Sendable {
    case jpeg, png, webp, tiff, gif, bmp, heic, avif

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
        return heif(bytes)
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
