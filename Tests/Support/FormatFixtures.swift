import CGIF
import CTIFF
import Foundation
import KindredImaging

/// TIFF, GIF and BMP files made by the tests: TIFF and GIF with the libraries' own writers
/// (libtiff, giflib), BMP by hand from its specification.
extension Fixtures {
    public enum TIFFKind: Sendable, CaseIterable {
        case rgbStrips, rgbTiles, gray8, gray16, bilevel, palette, cmyk, rgbaUnassociated, rgb16, bigTIFF, bigEndian
    }

    /// One page, or several: `pages[0]` is the image; further pages are marked reduced-resolution
    /// versions of it when `reduced`, else ordinary pages.
    /// With `iccProfile`, the first page's pixels are taken to be in that profile's space (a
    /// `.cmyk` page's inks are made through it) and it is embedded (tag 34675).
    public static func tiff(
        _ pages: [RGBImage], kind: TIFFKind = .rgbStrips, reduced: Bool = false, iccProfile: [UInt8]? = nil
    ) -> [UInt8] {
        let url = directory.appendingPathComponent("fixture-\(UUID().uuidString).tif")
        defer { try? FileManager.default.removeItem(at: url) }
        let mode = kind == .bigTIFF ? "w8" : kind == .bigEndian ? "wb" : "w"
        let tiff = TIFFOpen(url.path, mode)!
        for (number, image) in pages.enumerated() {
            // Tags before the page's data: libtiff fixes the directory once rows are written.
            if number == 0, let iccProfile { _ = kk_tiff_set_icc(tiff, UInt32(iccProfile.count), iccProfile) }
            writePage(
                tiff, image, kind: number == 0 ? kind : .rgbStrips, reduced: reduced && number > 0,
                cmykProfile: number == 0 ? iccProfile : nil)
            TIFFWriteDirectory(tiff)
        }
        TIFFClose(tiff)
        return Array(try! Data(contentsOf: url))
    }

    private static func writePage(
        _ tiff: OpaquePointer, _ image: RGBImage, kind: TIFFKind, reduced: Bool, cmykProfile: [UInt8]?
    ) {
        let (w, h) = (image.width, image.height)
        func set(_ tag: Int32, _ value: UInt32) { _ = kk_tiff_set_u32(tiff, UInt32(tag), value) }
        func set16(_ tag: Int32, _ value: Int32) { _ = kk_tiff_set_u16(tiff, UInt32(tag), UInt16(value)) }
        set(TIFFTAG_IMAGEWIDTH, UInt32(w))
        set(TIFFTAG_IMAGELENGTH, UInt32(h))
        set16(TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG)
        set16(TIFFTAG_COMPRESSION, kind == .rgbTiles ? COMPRESSION_ADOBE_DEFLATE : COMPRESSION_LZW)
        if reduced { set(TIFFTAG_SUBFILETYPE, UInt32(FILETYPE_REDUCEDIMAGE)) }
        var samples = 3, bits = 8
        var photometric = PHOTOMETRIC_RGB
        switch kind {
        case .gray8: (samples, photometric) = (1, PHOTOMETRIC_MINISBLACK)
        case .gray16: (samples, bits, photometric) = (1, 16, PHOTOMETRIC_MINISBLACK)
        case .bilevel: (samples, bits, photometric) = (1, 1, PHOTOMETRIC_MINISBLACK)
        case .palette: (samples, photometric) = (1, PHOTOMETRIC_PALETTE)
        case .cmyk: (samples, photometric) = (4, PHOTOMETRIC_SEPARATED)
        case .rgbaUnassociated: samples = 4
        case .rgb16: bits = 16
        default: break
        }
        set16(TIFFTAG_SAMPLESPERPIXEL, Int32(samples))
        set16(TIFFTAG_BITSPERSAMPLE, Int32(bits))
        set16(TIFFTAG_PHOTOMETRIC, photometric)
        if kind == .rgbaUnassociated {
            var extra = [UInt16(EXTRASAMPLE_UNASSALPHA)]
            _ = kk_tiff_set_extra_samples(tiff, 1, &extra)
        }
        if kind == .cmyk { set16(TIFFTAG_INKSET, INKSET_CMYK) }
        if kind == .palette {
            // A 6 × 6 × 6 colour cube; pixels take their nearest entry.
            var red = [UInt16](repeating: 0, count: 256), green = red, blue = red
            for i in 0..<216 {
                (red[i], green[i], blue[i]) = (
                    UInt16(i / 36 * 51) * 257, UInt16(i / 6 % 6 * 51) * 257, UInt16(i % 6 * 51) * 257
                )
            }
            _ = kk_tiff_set_colormap(tiff, &red, &green, &blue)
        }
        let rowBytes = (w * samples * bits + 7) / 8
        let inks = kind == .cmyk ? converted(image, into: cmykProfile ?? defaultCMYKProfile) : []
        func sample(_ x: Int, _ y: Int) -> [UInt8] {
            let p = (y * w + x) * 3
            return [image.pixels[p], image.pixels[p + 1], image.pixels[p + 2]]
        }
        func encodeRow(_ y: Int) -> [UInt8] {
            var row = [UInt8](repeating: 0, count: rowBytes)
            for x in 0..<w {
                let rgb = sample(x, y)
                let (r, g, b) = (rgb[0], rgb[1], rgb[2])
                let (ri, gi, bi) = (Int(r), Int(g), Int(b))
                let gray = UInt8((ri * 299 + gi * 587 + bi * 114) / 1000)
                switch kind {
                case .gray8: row[x] = gray
                case .gray16: (row[2 * x], row[2 * x + 1]) = (gray, gray)  // native byte order: v × 257
                case .bilevel: if gray >= 128 { row[x / 8] |= 0x80 >> UInt8(x % 8) }
                case .palette:
                    let cube: Int = (ri + 25) / 51 * 36 + (gi + 25) / 51 * 6 + (bi + 25) / 51
                    row[x] = UInt8(cube)
                case .cmyk:
                    for c in 0..<4 { row[4 * x + c] = inks[(y * w + x) * 4 + c] }
                case .rgbaUnassociated:
                    // The left tenth is transparent: it must come out white.
                    (row[4 * x], row[4 * x + 1], row[4 * x + 2], row[4 * x + 3]) = (r, g, b, x < w / 10 ? 0 : 255)
                case .rgb16:
                    for (c, v) in [r, g, b].enumerated() { (row[6 * x + 2 * c], row[6 * x + 2 * c + 1]) = (v, v) }
                default: (row[3 * x], row[3 * x + 1], row[3 * x + 2]) = (r, g, b)
                }
            }
            return row
        }
        if kind == .rgbTiles {
            let tile = 64
            set(TIFFTAG_TILEWIDTH, UInt32(tile))
            set(TIFFTAG_TILELENGTH, UInt32(tile))
            for ty in stride(from: 0, to: h, by: tile) {
                let rows = (ty..<min(h, ty + tile)).map(encodeRow)
                for tx in stride(from: 0, to: w, by: tile) {
                    var buffer = [UInt8](repeating: 0, count: tile * tile * 3)
                    for (r, row) in rows.enumerated() {
                        for x in tx..<min(w, tx + tile) {
                            for c in 0..<3 { buffer[(r * tile + x - tx) * 3 + c] = row[x * 3 + c] }
                        }
                    }
                    _ = TIFFWriteTile(tiff, &buffer, UInt32(tx), UInt32(ty), 0, 0)
                }
            }
        } else {
            set(TIFFTAG_ROWSPERSTRIP, UInt32(max(1, 8192 / max(1, rowBytes))))
            for y in 0..<h {
                var row = encodeRow(y)
                _ = TIFFWriteScanline(tiff, &row, UInt32(y), 0)
            }
        }
    }

    /// A GIF of `image` on a 6 × 6 × 6 colour cube (`quantised` gives the same quantisation), the
    /// frame at (left, top) on a screen of `screen` (default: the image's size), with palette entry
    /// `transparent` (if any) transparent.
    public static func gif(
        _ image: RGBImage, interlaced: Bool = false, screen: (Int, Int)? = nil, at: (Int, Int) = (0, 0),
        transparent: Int? = nil
    ) -> [UInt8] {
        let url = directory.appendingPathComponent("fixture-\(UUID().uuidString).gif")
        defer { try? FileManager.default.removeItem(at: url) }
        var code: Int32 = 0
        let gif = EGifOpenFileName(url.path, false, &code)!
        var colours = [GifColorType](repeating: GifColorType(Red: 0, Green: 0, Blue: 0), count: 256)
        for i in 0..<216 {
            let (r, g, b): (Int, Int, Int) = (i / 36 * 51, i / 6 % 6 * 51, i % 6 * 51)
            colours[i] = GifColorType(Red: UInt8(r), Green: UInt8(g), Blue: UInt8(b))
        }
        let map = GifMakeMapObject(256, &colours)
        let (sw, sh) = screen ?? (image.width, image.height)
        EGifSetGifVersion(gif, true)
        EGifPutScreenDesc(gif, Int32(sw), Int32(sh), 8, 0, map)
        if let transparent {
            var control = GraphicsControlBlock(
                DisposalMode: DISPOSAL_UNSPECIFIED, UserInputFlag: false, DelayTime: 0,
                TransparentColor: Int32(transparent))
            var block = [GifByteType](repeating: 0, count: 4)
            let length = EGifGCBToExtension(&control, &block)
            EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, Int32(length), &block)
        }
        EGifPutImageDesc(gif, Int32(at.0), Int32(at.1), Int32(image.width), Int32(image.height), interlaced, nil)
        let indices = quantisedIndices(image)
        let order: [Int] =
            interlaced
            ? [(0, 8), (4, 8), (2, 4), (1, 2)].flatMap { s, step in Array(stride(from: s, to: image.height, by: step)) }
            : Array(0..<image.height)
        for y in order {
            var row = Array(indices[(y * image.width)..<((y + 1) * image.width)])
            EGifPutLine(gif, &row, Int32(image.width))
        }
        EGifCloseFile(gif, &code)
        GifFreeMapObject(map)
        return Array(try! Data(contentsOf: url))
    }

    /// `image` as Pillow saves a photograph as GIF: a 256-colour median-cut palette with
    /// Floyd–Steinberg dithering.
    public static func pillowGIF(_ image: RGBImage) -> [UInt8] {
        let name = "pillow-\(UUID().uuidString)"
        let source = write(png(image, kind: .rgb8), "\(name).png"),
            target = directory.appendingPathComponent("\(name).gif")
        defer { for url in [source, target] { try? FileManager.default.removeItem(at: url) } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: numpyPython)
        process.arguments = [
            "-c",
            "import sys; from PIL import Image; Image.open(sys.argv[1]).quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(sys.argv[2])",
            source.path, target.path,
        ]
        try! process.run()
        process.waitUntilExit()
        precondition(process.terminationStatus == 0, "Pillow could not write the GIF: run `scripts/setup.sh deps`")
        return Array(try! Data(contentsOf: target))
    }

    /// Each pixel's 6 × 6 × 6 cube index, as `gif` and the palette TIFF store it.
    public static func quantisedIndices(_ image: RGBImage) -> [UInt8] {
        (0..<(image.width * image.height)).map { i in
            let (r, g, b) = (Int(image.pixels[i * 3]), Int(image.pixels[i * 3 + 1]), Int(image.pixels[i * 3 + 2]))
            return UInt8((r + 25) / 51 * 36 + (g + 25) / 51 * 6 + (b + 25) / 51)
        }
    }

    /// `image` through the 6 × 6 × 6 cube.
    public static func quantised(_ image: RGBImage) -> RGBImage {
        var out = image
        for (i, index) in quantisedIndices(image).enumerated() {
            let v = Int(index)
            (out.pixels[i * 3], out.pixels[i * 3 + 1], out.pixels[i * 3 + 2]) = (
                UInt8(v / 36 * 51), UInt8(v / 6 % 6 * 51), UInt8(v % 6 * 51)
            )
        }
        return out
    }

    public enum BMPKind: Sendable, CaseIterable {
        case rgb24, topDown32, bitfields565, rgb555, palette8, palette4, bilevel, rle8, rle4, os2Core24
    }

    /// A BMP of `image`; palette kinds hold the 6 × 6 × 6 cube (4-bit: its first 16 entries, so
    /// compare against `bmpReference`).
    public static func bmp(_ image: RGBImage, kind: BMPKind) -> [UInt8] {
        let (w, h) = (image.width, image.height)
        let bits: Int
        switch kind {
        case .rgb24, .os2Core24: bits = 24
        case .topDown32: bits = 32
        case .bitfields565, .rgb555: bits = 16
        case .palette8, .rle8: bits = 8
        case .palette4, .rle4: bits = 4
        case .bilevel: bits = 1
        }
        let core = kind == .os2Core24
        let infoSize = core ? 12 : 40
        let compression = kind == .rle8 ? 1 : kind == .rle4 ? 2 : kind == .bitfields565 ? 3 : 0
        let paletteCount = bits <= 8 ? 1 << bits : 0
        let masks = compression == 3 ? 12 : 0
        let dataOffset = 14 + infoSize + masks + paletteCount * 4
        let reference = bmpReference(image, kind: kind)
        func index(_ x: Int, _ y: Int) -> UInt8 {
            let p = (y * w + x) * 3
            let (r, g, b) = (Int(reference.pixels[p]), Int(reference.pixels[p + 1]), Int(reference.pixels[p + 2]))
            switch bits {
            case 1: return r > 127 ? 1 : 0
            case 4: return UInt8(bmpPalette4.firstIndex { $0 == (UInt8(r), UInt8(g), UInt8(b)) } ?? 0)
            default: return UInt8(r / 51 * 36 + g / 51 * 6 + b / 51)
            }
        }
        var pixels: [UInt8] = []
        let stride = (w * bits + 31) / 32 * 4
        let rows: [Int] = kind == .topDown32 ? Array(0..<h) : Array((0..<h).reversed())
        for y in rows {
            if kind == .rle8 || kind == .rle4 {
                // Runs of equal indices (at most 254 pixels), then end of line.
                var x = 0
                while x < w {
                    var n = 1
                    while x + n < w, n < 254, index(x + n, y) == index(x, y) { n += 1 }
                    let v = index(x, y)
                    pixels += [UInt8(n), kind == .rle4 ? v << 4 | v : v]
                    x += n
                }
                pixels += [0, 0]
                continue
            }
            var row = [UInt8](repeating: 0, count: stride)
            for x in 0..<w {
                let p = (y * w + x) * 3
                let (r, g, b) = (reference.pixels[p], reference.pixels[p + 1], reference.pixels[p + 2])
                switch kind {
                case .rgb24, .os2Core24: (row[x * 3], row[x * 3 + 1], row[x * 3 + 2]) = (b, g, r)
                case .topDown32: (row[x * 4], row[x * 4 + 1], row[x * 4 + 2], row[x * 4 + 3]) = (b, g, r, 0)
                case .bitfields565:
                    let v = UInt16(r >> 3) << 11 | UInt16(g >> 2) << 5 | UInt16(b >> 3)
                    (row[x * 2], row[x * 2 + 1]) = (UInt8(v & 0xFF), UInt8(v >> 8))
                case .rgb555:
                    let v = UInt16(r >> 3) << 10 | UInt16(g >> 3) << 5 | UInt16(b >> 3)
                    (row[x * 2], row[x * 2 + 1]) = (UInt8(v & 0xFF), UInt8(v >> 8))
                case .palette8: row[x] = index(x, y)
                case .palette4: row[x / 2] |= index(x, y) << (x % 2 == 0 ? 4 : 0)
                case .bilevel: if index(x, y) == 1 { row[x / 8] |= 0x80 >> UInt8(x % 8) }
                case .rle8, .rle4: break
                }
            }
            pixels += row
        }
        if kind == .rle8 || kind == .rle4 { pixels += [0, 1] }
        var out: [UInt8] = Array("BM".utf8)
        func u32(_ v: Int) {
            out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)]
        }
        func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        u32(dataOffset + pixels.count)
        u32(0)
        u32(dataOffset)
        u32(infoSize)
        if core {
            u16(w)
            u16(h)
            u16(1)
            u16(bits)
        } else {
            u32(w)
            u32(kind == .topDown32 ? -h & 0xFFFF_FFFF : h)
            u16(1)
            u16(bits)
            u32(compression)
            u32(pixels.count)
            u32(2835)
            u32(2835)
            u32(paletteCount)
            u32(0)
        }
        if compression == 3 {
            u32(0xF800)
            u32(0x07E0)
            u32(0x001F)
        }
        for i in 0..<paletteCount {
            let (r, g, b) =
                bits == 1
                ? (i == 0 ? (0, 0, 0) : (255, 255, 255))
                : bits == 4
                    ? (Int(bmpPalette4[i].0), Int(bmpPalette4[i].1), Int(bmpPalette4[i].2))
                    : (i < 216 ? (i / 36 * 51, i / 6 % 6 * 51, i % 6 * 51) : (0, 0, 0))
            out += [UInt8(b), UInt8(g), UInt8(r), 0]
        }
        return out + pixels
    }

    /// What a BMP of `kind` holds of `image`: its colours reduced as that kind stores them.
    public static func bmpReference(_ image: RGBImage, kind: BMPKind) -> RGBImage {
        var out = image
        for i in 0..<(image.width * image.height) {
            let (r, g, b) = (image.pixels[i * 3], image.pixels[i * 3 + 1], image.pixels[i * 3 + 2])
            let mapped: (UInt8, UInt8, UInt8)
            switch kind {
            case .rgb24, .os2Core24, .topDown32: mapped = (r, g, b)
            case .bitfields565: mapped = (expand(r >> 3, 5), expand(g >> 2, 6), expand(b >> 3, 5))
            case .rgb555: mapped = (expand(r >> 3, 5), expand(g >> 3, 5), expand(b >> 3, 5))
            case .palette8, .rle8:
                let (qr, qg, qb) = ((Int(r) + 25) / 51, (Int(g) + 25) / 51, (Int(b) + 25) / 51)
                mapped = (UInt8(qr * 51), UInt8(qg * 51), UInt8(qb * 51))
            case .palette4, .rle4:
                let gray = (Int(r) + Int(g) + Int(b)) / 3
                mapped = bmpPalette4[min(15, (gray + 8) / 17)]
            case .bilevel:
                let v: UInt8 = (Int(r) + Int(g) + Int(b)) / 3 > 127 ? 255 : 0
                mapped = (v, v, v)
            }
            (out.pixels[i * 3], out.pixels[i * 3 + 1], out.pixels[i * 3 + 2]) = mapped
        }
        return out
    }

    /// Sixteen grays.
    static let bmpPalette4: [(UInt8, UInt8, UInt8)] = (0..<16).map { (i: Int) -> (UInt8, UInt8, UInt8) in
        let v = UInt8(i * 17)
        return (v, v, v)
    }

    private static func expand(_ v: UInt8, _ bits: Int) -> UInt8 {
        let maximum = (1 << bits) - 1
        return UInt8((Int(v) * 255 + maximum / 2) / maximum)
    }
}
