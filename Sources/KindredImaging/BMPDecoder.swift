/// Windows and OS/2 bitmaps: 1, 4 and 8-bit palettes, 16, 24 and 32-bit colour (with bit-field
/// masks and alpha), RLE4 and RLE8. Hand-written because Debian has no library that reads BMP
/// alone (libvips and ImageMagick are whole toolkits); every offset and size is checked against
/// the bytes before it is used, and `fuzz-decoders` runs it.
enum BMPDecoder {
    static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        let header = try Header(bytes, path: path)
        try options.admit(width: header.width, height: header.height, heldWhole: header.rle, path: path)
        let (outputWidth, outputHeight) = options.outputSize(width: header.width, height: header.height)
        var resampler = AreaResampler(
            inputWidth: header.width, inputHeight: header.height, outputWidth: outputWidth,
            outputHeight: outputHeight)
        var rgb = [UInt8](repeating: 255, count: header.width * 3)
        if header.rle {
            let indices = try header.expandRLE(bytes, path: path)
            for y in 0..<header.height {
                let stored = header.topDown ? y : header.height - 1 - y
                for x in 0..<header.width {
                    let p = Int(indices[stored * header.width + x])
                    (rgb[x * 3], rgb[x * 3 + 1], rgb[x * 3 + 2]) = header.colour(p)
                }
                rgb.withUnsafeBufferPointer { resampler.add(row: $0.baseAddress!) }
            }
        } else {
            let stride = (header.width * header.bitsPerPixel + 31) / 32 * 4
            let (end, overflow) = header.dataOffset.addingReportingOverflow(stride * header.height)
            guard !overflow, end <= bytes.count else {
                throw ImageError(
                    path: path, kind: .corrupt,
                    reason: "truncated BMP data (\(bytes.count) bytes, pixels end at \(overflow ? Int.max : end))")
            }
            for y in 0..<header.height {
                let stored = header.topDown ? y : header.height - 1 - y
                header.row(bytes, at: header.dataOffset + stored * stride, into: &rgb)
                rgb.withUnsafeBufferPointer { resampler.add(row: $0.baseAddress!) }
            }
        }
        return DecodedImage(
            image: resampler.output, format: .bmp, originalWidth: header.width, originalHeight: header.height,
            embeddedProfile: header.iccProfile, resampleTime: resampler.busy)
    }

    struct Header {
        var width = 0, height = 0, bitsPerPixel = 0, dataOffset = 0
        var topDown = false, rle = false
        /// 0 none, 1 RLE8, 2 RLE4, 3 bit fields.
        var compression = 0
        var palette: [(UInt8, UInt8, UInt8)] = []
        /// Bit-field masks for 16- and 32-bit pixels: red, green, blue, alpha (0: none).
        var masks: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        /// A version 5 header's embedded ICC profile (colour space type 'MBED').
        var iccProfile: [UInt8]?

        init(_ bytes: UnsafeRawBufferPointer, path: String) throws(ImageError) {
            func corrupt(_ reason: String) -> ImageError { ImageError(path: path, kind: .corrupt, reason: reason) }
            func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
            func u32(_ at: Int) -> UInt32 {
                UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3])
                    << 24
            }
            guard bytes.count >= 26 else { throw corrupt("truncated BMP header (\(bytes.count) bytes)") }
            dataOffset = Int(u32(10))
            let infoSize = Int(u32(14))
            guard [12, 16, 40, 52, 56, 64, 108, 124].contains(infoSize) else {
                throw corrupt("corrupt BMP: unknown header size \(infoSize)")
            }
            guard bytes.count >= 14 + infoSize else { throw corrupt("truncated BMP header (\(bytes.count) bytes)") }
            if infoSize == 124, u32(70) == 0x4D42_4544 {
                // Its offset counts from the start of the info header; a bad one means no profile.
                let start = 14 + Int(u32(126)), size = Int(u32(130))
                if size > 0, size <= ColourManagement.maxProfileBytes, start <= bytes.count - size {
                    iccProfile = Array(bytes[start..<(start + size)])
                }
            }
            let core = infoSize == 12
            if core {
                width = u16(18)
                height = u16(20)
                bitsPerPixel = u16(24)
            } else {
                width = Int(Int32(bitPattern: u32(18)))
                let signedHeight = Int(Int32(bitPattern: u32(22)))
                topDown = signedHeight < 0
                height = abs(signedHeight)
                bitsPerPixel = u16(28)
                // The 16-byte OS/2 2.x header ends before the compression field.
                compression = infoSize >= 40 ? Int(u32(30)) : 0
            }
            guard [1, 4, 8, 16, 24, 32].contains(bitsPerPixel) else {
                throw corrupt("corrupt BMP: \(bitsPerPixel) bits a pixel")
            }
            switch (compression, bitsPerPixel) {
            case (0, _): break
            case (1, 8), (2, 4): rle = true
            case (3, 16), (3, 32), (6, 16), (6, 32):
                // Masks follow a 40-byte header, or sit inside a larger one.
                let at = 14 + 40
                let count = compression == 6 || infoSize >= 56 ? 4 : 3
                guard bytes.count >= at + 4 * count else { throw corrupt("truncated BMP bit-field masks") }
                masks = (u32(at), u32(at + 4), u32(at + 8), count == 4 ? u32(at + 12) : 0)
            default:
                throw ImageError(
                    path: path, kind: .unsupportedFormat,
                    reason: "BMP compression \(compression) at \(bitsPerPixel) bits a pixel is not supported")
            }
            if topDown && rle { throw corrupt("corrupt BMP: a top-down bitmap cannot be RLE-compressed") }
            if bitsPerPixel == 16 && compression == 0 { masks = (0x7C00, 0x03E0, 0x001F, 0) }
            if bitsPerPixel <= 8 {
                let entry = core ? 3 : 4
                let declared = infoSize >= 40 ? Int(u32(46)) : 0
                let count = declared == 0 || declared > 1 << bitsPerPixel ? 1 << bitsPerPixel : declared
                var at = 14 + infoSize + (compression == 3 && infoSize == 40 ? 12 : 0)
                for _ in 0..<count where at + 3 <= bytes.count && at + 3 <= dataOffset {
                    palette.append((bytes[at + 2], bytes[at + 1], bytes[at]))
                    at += entry
                }
                guard !palette.isEmpty else { throw corrupt("corrupt BMP: no colour table") }
            }
            guard dataOffset >= 14 + infoSize, dataOffset < bytes.count else {
                throw corrupt("corrupt BMP: pixel data offset \(dataOffset) outside the file")
            }
        }

        func colour(_ index: Int) -> (UInt8, UInt8, UInt8) {
            index < palette.count ? palette[index] : (0, 0, 0)
        }

        /// One stored row at `offset` (already checked to lie in `bytes`) as RGB over white.
        func row(_ bytes: UnsafeRawBufferPointer, at offset: Int, into rgb: inout [UInt8]) {
            for x in 0..<width {
                let pixel: (UInt8, UInt8, UInt8)
                switch bitsPerPixel {
                case 1, 4, 8:
                    let bit = x * bitsPerPixel
                    let byte = bytes[offset + bit / 8]
                    let shift = 8 - bitsPerPixel - bit % 8
                    pixel = colour(Int(byte >> shift) & ((1 << bitsPerPixel) - 1))
                case 24:
                    let p = offset + x * 3
                    pixel = (bytes[p + 2], bytes[p + 1], bytes[p])
                case 16:
                    let p = offset + x * 2
                    pixel = fields(UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8)
                default:
                    let p = offset + x * 4
                    let value =
                        UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16
                        | UInt32(bytes[p + 3]) << 24
                    pixel = compression == 0 ? (bytes[p + 2], bytes[p + 1], bytes[p]) : fields(value)
                }
                (rgb[x * 3], rgb[x * 3 + 1], rgb[x * 3 + 2]) = pixel
            }
        }

        /// A 16- or 32-bit pixel through its masks, scaled to 8 bits, alpha composited on white.
        private func fields(_ value: UInt32) -> (UInt8, UInt8, UInt8) {
            func channel(_ mask: UInt32) -> Int {
                guard mask != 0 else { return 255 }
                let shift = mask.trailingZeroBitCount, bits = mask >> shift
                guard bits & (bits &+ 1) == 0 else { return 0 }  // not one run of ones
                let v = Int((value & mask) >> shift), maximum = Int(bits)
                return (v * 255 + maximum / 2) / maximum
            }
            let a = masks.3 == 0 ? 255 : channel(masks.3)
            func over(_ c: Int) -> UInt8 { UInt8((c * a + 255 * (255 - a) + 127) / 255) }
            return (over(channel(masks.0)), over(channel(masks.1)), over(channel(masks.2)))
        }

        /// RLE8 or RLE4 into one palette index a pixel, in stored (bottom-up) row order. Pixels
        /// the stream skips (delta and early end codes) stay index 0, as Windows draws them.
        func expandRLE(_ bytes: UnsafeRawBufferPointer, path: String) throws(ImageError) -> [UInt8] {
            var indices = [UInt8](repeating: 0, count: width * height)
            var at = dataOffset, x = 0, y = 0
            func put(_ index: UInt8) {
                if x < width && y < height { indices[y * width + x] = index }
                x += 1
            }
            let four = bitsPerPixel == 4
            while at + 1 < bytes.count, y < height {
                let count = Int(bytes[at]), value = bytes[at + 1]
                at += 2
                if count > 0 {
                    for i in 0..<count { put(four ? (i % 2 == 0 ? value >> 4 : value & 0x0F) : value) }
                    continue
                }
                switch value {
                case 0:
                    x = 0
                    y += 1
                case 1: return indices
                case 2:
                    guard at + 1 < bytes.count else { break }
                    x += Int(bytes[at])
                    y += Int(bytes[at + 1])
                    at += 2
                default:
                    let n = Int(value), length = four ? (n + 1) / 2 : n
                    guard at + length <= bytes.count else {
                        throw ImageError(path: path, kind: .corrupt, reason: "truncated BMP RLE data")
                    }
                    for i in 0..<n {
                        put(four ? (i % 2 == 0 ? bytes[at + i / 2] >> 4 : bytes[at + i / 2] & 0x0F) : bytes[at + i])
                    }
                    at += (length + 1) & ~1  // runs are padded to a 16-bit boundary
                }
            }
            // Every row ended; otherwise the data stopped before its end-of-bitmap code.
            guard y >= height else { throw ImageError(path: path, kind: .corrupt, reason: "truncated BMP RLE data") }
            return indices
        }
    }
}
