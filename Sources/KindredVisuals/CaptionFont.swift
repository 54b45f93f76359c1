import CFreeType
import KindredImaging

/// Text for contact-sheet captions, rasterised by FreeType (anti-aliased, with kerning-free
/// advances, which is plenty for file names) and blended into an `RGBImage`.
public final class CaptionFont {
    /// DejaVu Sans, from Debian's fonts-dejavu-core.
    public static let defaultPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

    private var library: FT_Library?
    private var face: FT_Face?
    public let pixelSize: Int
    public let path: String

    public init(path: String = CaptionFont.defaultPath, pixelSize: Int) throws(VisualsError) {
        self.path = path
        self.pixelSize = pixelSize
        guard FT_Init_FreeType(&library) == 0 else { throw .font(path: path, reason: "FreeType could not start") }
        // On a throw from here on, deinit releases the library.
        guard FT_New_Face(library, path, 0, &face) == 0, face != nil else {
            throw .font(path: path, reason: "not a readable font (install fonts-dejavu-core, or pass --font)")
        }
        FT_Set_Pixel_Sizes(face, 0, FT_UInt(pixelSize))
    }

    deinit {
        if let face { FT_Done_Face(face) }
        if let library { FT_Done_FreeType(library) }
    }

    /// Pixels from the baseline up to the top of capitals, and the line height.
    public var ascent: Int { Int(face!.pointee.size.pointee.metrics.ascender >> 6) }
    public var lineHeight: Int { Int(face!.pointee.size.pointee.metrics.height >> 6) }

    /// The advance width of `text` in pixels.
    public func width(of text: String) -> Int {
        text.unicodeScalars.reduce(0) { total, scalar in
            guard FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(FT_LOAD_DEFAULT)) == 0 else { return total }
            return total + Int(face!.pointee.glyph.pointee.advance.x >> 6)
        }
    }

    /// `text` cut with "…" in the middle so it fits `maxWidth` (file names differ at both ends).
    public func fitted(_ text: String, maxWidth: Int) -> String {
        guard width(of: text) > maxWidth else { return text }
        var head = Array(text.prefix(text.count / 2)), tail = Array(text.suffix(text.count - text.count / 2))
        while !head.isEmpty || !tail.isEmpty {
            if tail.count >= head.count { tail.removeFirst() } else { head.removeLast() }
            let candidate = String(head) + "…" + String(tail)
            if width(of: candidate) <= maxWidth { return candidate }
        }
        return "…"
    }

    /// Draws `text` with its baseline at `y`, starting at `x`, in `colour`, clipped to the image.
    public func draw(_ text: String, into image: inout RGBImage, x: Int, y: Int, colour: (UInt8, UInt8, UInt8)) {
        var pen = x
        for scalar in text.unicodeScalars {
            guard FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(FT_LOAD_RENDER)) == 0 else { continue }
            let glyph = face!.pointee.glyph.pointee
            let bitmap = glyph.bitmap
            let left = pen + Int(glyph.bitmap_left), top = y - Int(glyph.bitmap_top)
            for row in 0..<Int(bitmap.rows) {
                let py = top + row
                guard py >= 0 && py < image.height else { continue }
                for column in 0..<Int(bitmap.width) {
                    let px = left + column
                    guard px >= 0 && px < image.width else { continue }
                    let coverage = Int(bitmap.buffer[row * Int(bitmap.pitch) + column])
                    guard coverage > 0 else { continue }
                    let p = (py * image.width + px) * 3
                    image.pixels[p] = blend(image.pixels[p], colour.0, coverage)
                    image.pixels[p + 1] = blend(image.pixels[p + 1], colour.1, coverage)
                    image.pixels[p + 2] = blend(image.pixels[p + 2], colour.2, coverage)
                }
            }
            pen += Int(glyph.advance.x >> 6)
        }
    }

    private func blend(_ under: UInt8, _ over: UInt8, _ alpha: Int) -> UInt8 {
        UInt8((Int(under) * (255 - alpha) + Int(over) * alpha + 127) / 255)
    }
}
