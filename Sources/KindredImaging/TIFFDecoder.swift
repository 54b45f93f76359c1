import CTIFF
import Foundation  // vsnprintf

/// TIFF and BigTIFF through libtiff: strips or tiles; 1- to 16-bit; gray, palette, RGB, CMYK and
/// YCbCr (libtiff's RGBA interface converts each); alpha composited on white. The image is read a
/// band of rows at a time (a strip or a row of tiles) into the area resampler, so memory is one
/// band whatever the image's size.
///
/// Which image of the file: the first page, or, when the file also holds reduced-resolution
/// versions of it (a pyramid, as pages or as SubIFDs), the smallest of them that still covers the
/// output size, so a 100-megapixel master with a pyramid decodes a few megapixels.
enum TIFFDecoder {
    /// Directories examined for pyramid levels; a file claiming more is read for its first ones.
    static let maxDirectories = 256

    static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        let file = try TIFFFile(bytes, path: path, options: options)
        defer { file.close() }
        let tiff = file.handle
        let page = try file.size(path: path)
        try options.admit(width: page.width, height: page.height, path: path)
        let orientation = Int(file.orientation())
        // The page's profile: its reduced levels are the same picture, and may not repeat it.
        let profile = file.iccProfile()
        let (outputWidth, outputHeight) = options.outputSize(width: page.width, height: page.height)
        let level = file.smallestLevel(covering: outputWidth, outputHeight, of: page)
        if let level { try file.select(level, path: path) }
        let (width, height) = level.map { ($0.width, $0.height) } ?? (page.width, page.height)

        var message = [CChar](repeating: 0, count: 1024)
        var rgba = TIFFRGBAImage()
        guard TIFFRGBAImageOK(tiff, &message) != 0, TIFFRGBAImageBegin(&rgba, tiff, 1, &message) != 0 else {
            throw ImageError(
                path: path, kind: .unsupportedFormat,
                reason: "TIFF variant not supported: \(TIFFFile.text(message))\(file.lastError)")
        }
        defer { TIFFRGBAImageEnd(&rgba) }
        // 8-bit CMYK is read as stored and colour-managed here, rather than inverted naively.
        let cmyk = file.isCMYK8() && rgba.isContig != 0
        let cmykTransform =
            cmyk && options.managesColour ? ColourManagement.transform(profile: profile, source: .cmyk) : nil
        if cmykTransform != nil { kk_tiff_use_cmyk8(&rgba) }
        // Rows come in the order they are stored; the orientation tag is applied after shrinking.
        rgba.req_orientation = UInt16(clamping: (1...8).contains(orientation) ? orientation : 1)

        // One band: a strip's rows, or a row of tiles, so each is decompressed once.
        var band: UInt32 = 0
        if TIFFIsTiled(tiff) != 0 {
            kk_tiff_get_u32(tiff, UInt32(TIFFTAG_TILELENGTH), &band)
        } else {
            kk_tiff_get_u32_defaulted(tiff, UInt32(TIFFTAG_ROWSPERSTRIP), &band)
        }
        let bandRows = max(1, min(Int(band), height))
        try options.admit(width: width, height: bandRows, heldWhole: true, path: path)

        var resampler = AreaResampler(
            inputWidth: width, inputHeight: height,
            outputWidth: min(width, outputWidth), outputHeight: min(height, outputHeight))
        var raster = [UInt32](repeating: 0, count: width * bandRows)
        var rgb = [UInt8](repeating: 0, count: width * 3)
        var row = 0
        while row < height {
            let rows = min(bandRows, height - row)
            rgba.row_offset = Int32(row)
            rgba.col_offset = 0
            let ok = raster.withUnsafeMutableBufferPointer {
                TIFFRGBAImageGet(&rgba, $0.baseAddress, UInt32(width), UInt32(rows))
            }
            guard ok != 0 else {
                throw ImageError(path: path, kind: .corrupt, reason: "corrupt TIFF data at row \(row)\(file.lastError)")
            }
            for r in 0..<rows {
                if let cmykTransform {
                    raster.withUnsafeBytes { inks in
                        rgb.withUnsafeMutableBytes {
                            cmykTransform.apply(inks.baseAddress! + r * width * 4, to: $0.baseAddress!, pixels: width)
                        }
                    }
                } else {
                    composite(raster, offset: r * width, width: width, into: &rgb)
                }
                rgb.withUnsafeBufferPointer { resampler.add(row: $0.baseAddress!) }
            }
            row += rows
        }
        var image = resampler.output
        if orientation != 1 { image = image.oriented(orientation) }
        let transposed = orientation >= 5
        return DecodedImage(
            image: image, format: .tiff, originalWidth: transposed ? page.height : page.width,
            originalHeight: transposed ? page.width : page.height, colourProfile: cmykTransform?.profileName,
            embeddedProfile: cmyk ? nil : profile, resampleTime: resampler.busy)
    }

    /// libtiff's packed ABGR, premultiplied by alpha, over white: c + (255 − a).
    private static func composite(_ raster: [UInt32], offset: Int, width: Int, into rgb: inout [UInt8]) {
        precondition(offset >= 0 && offset + width <= raster.count && width * 3 <= rgb.count)
        raster.withUnsafeBufferPointer { source in
            rgb.withUnsafeMutableBufferPointer { destination in
                let input = source.baseAddress! + offset, output = destination.baseAddress!
                for x in 0..<width {
                    let p = input[x], white = 255 &- Int(p >> 24)
                    output[x &* 3] = UInt8(truncatingIfNeeded: min(255, Int(p & 0xFF) &+ white))
                    output[x &* 3 &+ 1] = UInt8(truncatingIfNeeded: min(255, Int((p >> 8) & 0xFF) &+ white))
                    output[x &* 3 &+ 2] = UInt8(truncatingIfNeeded: min(255, Int((p >> 16) & 0xFF) &+ white))
                }
            }
        }
    }
}

/// An open TIFF over bytes in memory, with libtiff's messages captured instead of printed, and
/// its single allocations capped.
private final class TIFFFile {
    /// Where libtiff reads: the caller's buffer, never a file it names.
    struct Source {
        let base: UnsafeRawPointer?
        let count: Int
        var offset = 0
    }

    struct Level {
        let directory: UInt32?
        let subIFD: UInt64?
        let width: Int, height: Int
    }

    let source: UnsafeMutablePointer<Source>
    let messages = UnsafeMutablePointer<[CChar]>.allocate(capacity: 1)
    var handle: OpaquePointer!

    /// libtiff's last error message, as ": message", or "".
    var lastError: String {
        let text = Self.text(messages.pointee)
        return text.isEmpty ? "" : ": \(text)"
    }

    /// A NUL-terminated C string held in an array.
    static func text(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    init(_ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions) throws(ImageError) {
        source = .allocate(capacity: 1)
        source.initialize(to: Source(base: bytes.baseAddress, count: bytes.count))
        messages.initialize(to: [CChar](repeating: 0, count: 512))
        let settings = TIFFOpenOptionsAlloc()
        defer { TIFFOpenOptionsFree(settings) }
        // A band of a 262,144-pixel-wide image is 1 MiB a row; no honest allocation is larger
        // than the in-memory pixel limit's worth of 32-bit pixels.
        TIFFOpenOptionsSetMaxSingleMemAlloc(settings, tmsize_t(min(options.pixelLimit * 4, 1 << 30)))
        TIFFOpenOptionsSetErrorHandlerExtR(settings, TIFFFile.record, messages)
        TIFFOpenOptionsSetWarningHandlerExtR(settings, TIFFFile.ignore, nil)
        // "m": no memory mapping (the bytes are already in memory); "h": read the header only
        // when asked, so a damaged first directory is reported by TIFFReadDirectory below.
        handle = TIFFClientOpenExt(
            "image", "rm", source, TIFFFile.read, TIFFFile.write, TIFFFile.seek, TIFFFile.closeSource,
            TIFFFile.size, nil, nil, settings)
        guard handle != nil else {
            let reason = Self.text(messages.pointee)
            source.deallocate()
            messages.deinitialize(count: 1)
            messages.deallocate()
            throw ImageError(
                path: path, kind: .corrupt, reason: "corrupt TIFF: \(reason.isEmpty ? "unreadable header" : reason)")
        }
    }

    func close() {
        TIFFClose(handle)
        source.deallocate()
        messages.deinitialize(count: 1)
        messages.deallocate()
    }

    func size(path: String) throws(ImageError) -> (width: Int, height: Int) {
        var width: UInt32 = 0, height: UInt32 = 0
        guard kk_tiff_get_u32(handle, UInt32(TIFFTAG_IMAGEWIDTH), &width) != 0,
            kk_tiff_get_u32(handle, UInt32(TIFFTAG_IMAGELENGTH), &height) != 0
        else {
            throw ImageError(path: path, kind: .corrupt, reason: "corrupt TIFF: no image size\(lastError)")
        }
        return (Int(width), Int(height))
    }

    /// The current directory's ICC profile (tag 34675), if it has one of a plausible size.
    func iccProfile() -> [UInt8]? {
        var count: UInt32 = 0
        var data: UnsafeMutableRawPointer?
        guard kk_tiff_get_icc(handle, &count, &data) != 0, let data, count > 0,
            count <= ColourManagement.maxProfileBytes
        else { return nil }
        return Array(UnsafeRawBufferPointer(start: data, count: Int(count)))
    }

    /// Whether the current directory holds 8-bit CMYK inks (separated, the CMYK ink set, four
    /// or more samples a pixel).
    func isCMYK8() -> Bool {
        var photometric: UInt16 = 0, inkSet: UInt16 = 0, bits: UInt16 = 0, samples: UInt16 = 0
        kk_tiff_get_u16_defaulted(handle, UInt32(TIFFTAG_PHOTOMETRIC), &photometric)
        kk_tiff_get_u16_defaulted(handle, UInt32(TIFFTAG_INKSET), &inkSet)
        kk_tiff_get_u16_defaulted(handle, UInt32(TIFFTAG_BITSPERSAMPLE), &bits)
        kk_tiff_get_u16_defaulted(handle, UInt32(TIFFTAG_SAMPLESPERPIXEL), &samples)
        return photometric == UInt16(PHOTOMETRIC_SEPARATED) && inkSet == UInt16(INKSET_CMYK) && bits == 8
            && samples >= 4
    }

    func orientation() -> UInt16 {
        var value: UInt16 = 1
        kk_tiff_get_u16_defaulted(handle, UInt32(TIFFTAG_ORIENTATION), &value)
        return value
    }

    /// The smallest reduced-resolution version of the first page (same aspect ratio within 1 %)
    /// that is at least `width` × `height`, or nil when the page itself is the best there is.
    func smallestLevel(covering width: Int, _ height: Int, of page: (width: Int, height: Int)) -> Level? {
        var levels: [Level] = []
        func consider(_ level: Level) {
            let sameShape =
                abs(Double(level.width) / Double(max(1, level.height)) - Double(page.width) / Double(page.height))
                <= 0.01 * Double(page.width) / Double(page.height)
            if sameShape, level.width >= width, level.height >= height, level.width < page.width {
                levels.append(level)
            }
        }
        // Reduced images stored as SubIFDs of the first page.
        var count: UInt16 = 0
        var offsets: UnsafeMutablePointer<UInt64>?
        if kk_tiff_get_subifds(handle, &count, &offsets) != 0, let offsets {
            let subIFDs = (0..<min(Int(count), TIFFDecoder.maxDirectories)).map { offsets[$0] }
            for offset in subIFDs where TIFFSetSubDirectory(handle, offset) != 0 {
                if let (w, h) = try? size(path: ""), isReduced() {
                    consider(Level(directory: nil, subIFD: offset, width: w, height: h))
                }
            }
            TIFFSetDirectory(handle, 0)
        }
        // Reduced images stored as further pages.
        var directory: UInt32 = 1
        while directory < TIFFDecoder.maxDirectories, TIFFSetDirectory(handle, directory) != 0 {
            if let (w, h) = try? size(path: ""), isReduced() {
                consider(Level(directory: directory, subIFD: nil, width: w, height: h))
            }
            directory += 1
        }
        TIFFSetDirectory(handle, 0)
        messages.pointee[0] = 0
        return levels.min { $0.width * $0.height < $1.width * $1.height }
    }

    func select(_ level: Level, path: String) throws(ImageError) {
        let ok =
            if let subIFD = level.subIFD { TIFFSetSubDirectory(handle, subIFD) } else {
                TIFFSetDirectory(handle, level.directory ?? 0)
            }
        guard ok != 0 else {
            throw ImageError(path: path, kind: .corrupt, reason: "corrupt TIFF: unreadable reduced image\(lastError)")
        }
    }

    private func isReduced() -> Bool {
        var type: UInt32 = 0
        kk_tiff_get_u32_defaulted(handle, UInt32(TIFFTAG_SUBFILETYPE), &type)
        return type & UInt32(FILETYPE_REDUCEDIMAGE) != 0
    }

    // libtiff's client procedures, over `Source`.
    private static let read: TIFFReadWriteProc = { handle, buffer, size in
        let source = handle!.assumingMemoryBound(to: Source.self)
        let n = max(0, min(Int(size), source.pointee.count - source.pointee.offset))
        if n > 0, let base = source.pointee.base {
            buffer!.copyMemory(from: base + source.pointee.offset, byteCount: n)
        }
        source.pointee.offset += n
        return tmsize_t(n)
    }
    private static let write: TIFFReadWriteProc = { _, _, _ in 0 }
    private static let seek: TIFFSeekProc = { handle, offset, whence in
        let source = handle!.assumingMemoryBound(to: Source.self)
        let base: Int
        switch whence {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = source.pointee.offset
        case SEEK_END: base = source.pointee.count
        default: return toff_t.max
        }
        let (target, overflow) = base.addingReportingOverflow(Int(truncatingIfNeeded: Int64(bitPattern: offset)))
        guard !overflow, target >= 0 else { return toff_t.max }
        source.pointee.offset = target
        return toff_t(target)
    }
    private static let closeSource: TIFFCloseProc = { _ in 0 }
    private static let size: TIFFSizeProc = { handle in
        toff_t(handle!.assumingMemoryBound(to: Source.self).pointee.count)
    }
    private static let record: TIFFErrorHandlerExtR = { _, messages, _, format, arguments in
        guard let arguments else { return 1 }
        let buffer = messages!.assumingMemoryBound(to: [CChar].self)
        buffer.pointee.withUnsafeMutableBufferPointer { _ = vsnprintf($0.baseAddress, $0.count, format, arguments) }
        return 1
    }
    private static let ignore: TIFFErrorHandlerExtR = { _, _, _, _, _ in 1 }
}
