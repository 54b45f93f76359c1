import CSPNG
import CTurboJPEG
import CWebP
import Foundation
import KindredImaging

/// Images the tests make themselves, in every format and depth the decoders must handle.
public enum Fixtures {
    public static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kindred-images-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// A smooth colour gradient with a bright square in the top-left quarter, so orientation and
    /// scaling can be checked by where the square ends up.
    public static func pattern(width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let marked = x < width / 4 && y < height / 4
                let p = (y * width + x) * 3
                image.pixels[p] = marked ? 250 : UInt8(x * 200 / max(1, width - 1))
                image.pixels[p + 1] = marked ? 250 : UInt8(y * 200 / max(1, height - 1))
                image.pixels[p + 2] = marked ? 250 : 60
            }
        }
        return image
    }

    /// `bytes` as a file called `name`, in a directory of its own: tests run in parallel and
    /// several write the same name (two wrote `tiled.jp2` with different pictures, and one decoded
    /// the other's file: CI, 12-03), so no two calls may share a path.
    public static func write(_ bytes: [UInt8], _ name: String) -> URL {
        let own = directory.appendingPathComponent(UUID().uuidString)
        try! FileManager.default.createDirectory(at: own, withIntermediateDirectories: true)
        let url = own.appendingPathComponent(name)
        try! Data(bytes).write(to: url)
        return url
    }

    public enum JPEGKind { case rgb, gray, progressive, cmyk }

    /// `image` as JPEG; `.cmyk` stores inks through `cmykProfile` (default: the default CMYK
    /// profile).
    public static func jpeg(
        _ image: RGBImage, kind: JPEGKind = .rgb, quality: Int32 = 92, cmykProfile: [UInt8]? = nil
    ) -> [UInt8] {
        let handle = tjInitCompress()!
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        var source = image.pixels
        var format = TJPF_RGB.rawValue
        var subsampling = Int32(TJSAMP_420.rawValue)
        var flags: Int32 = 0
        switch kind {
        case .rgb: break
        case .gray: subsampling = Int32(TJSAMP_GRAY.rawValue)
        case .progressive: flags = Int32(TJFLAG_PROGRESSIVE)
        case .cmyk:
            // Inks through the default CMYK profile, stored inverted as Adobe writes them
            // (libjpeg adds the Adobe segment that says so).
            source = converted(image, into: cmykProfile ?? defaultCMYKProfile).map { 255 - $0 }
            format = TJPF_CMYK.rawValue
            subsampling = Int32(TJSAMP_444.rawValue)
        }
        let status = source.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(image.width), 0, Int32(image.height), format, &buffer, &size, subsampling,
                quality, flags)
        }
        precondition(status == 0, String(cString: tjGetErrorStr2(handle)))
        defer { tjFree(buffer) }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }

    /// Inserts an EXIF APP1 segment with the given orientation right after SOI.
    public static func withOrientation(_ jpeg: [UInt8], _ orientation: UInt16) -> [UInt8] {
        // Little-endian, IFD at 8, 1 entry.
        var tiff: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00]
        tiff += [
            0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, UInt8(orientation & 0xFF), UInt8(orientation >> 8), 0x00,
            0x00,
        ]
        tiff += [0x00, 0x00, 0x00, 0x00]
        let payload: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + Array(jpeg[2...])
    }

    public enum PNGKind { case rgb8, rgba8, gray8, gray16, rgb16, palette, interlaced }

    /// `image` as PNG; with `iccProfile`, the pixels are taken to be in that profile's space and
    /// it is embedded as an iCCP chunk.
    public static func png(_ image: RGBImage, kind: PNGKind, iccProfile: [UInt8]? = nil) -> [UInt8] {
        let ctx = spng_ctx_new(Int32(SPNG_CTX_ENCODER.rawValue))!
        defer { spng_ctx_free(ctx) }
        spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1)
        var header = spng_ihdr(
            width: UInt32(image.width), height: UInt32(image.height), bit_depth: 8, color_type: 2,
            compression_method: 0, filter_method: 0, interlace_method: 0)
        var data: [UInt8] = []
        var palette: spng_plte?
        let n = image.width * image.height
        switch kind {
        case .rgb8, .interlaced:
            data = image.pixels
            if kind == .interlaced { header.interlace_method = 1 }
        case .rgba8:
            header.color_type = 6
            for i in 0..<n {
                data += [image.pixels[i * 3], image.pixels[i * 3 + 1], image.pixels[i * 3 + 2], i % 2 == 0 ? 255 : 0]
            }
        case .gray8:
            header.color_type = 0
            data = (0..<n).map { image.pixels[$0 * 3 + 1] }
        case .gray16:
            header.color_type = 0
            header.bit_depth = 16
            // v·257: the same in either byte order.
            for i in 0..<n { data += [image.pixels[i * 3 + 1], image.pixels[i * 3 + 1]] }
        case .rgb16:
            header.bit_depth = 16
            for i in 0..<(n * 3) { data += [image.pixels[i], image.pixels[i]] }
        case .palette:
            header.color_type = 3
            var chosen = spng_plte()
            chosen.n_entries = 4
            let colours: [(UInt8, UInt8, UInt8)] = [(0, 0, 0), (250, 250, 250), (200, 30, 30), (30, 30, 200)]
            withUnsafeMutableBytes(of: &chosen.entries) { raw in
                for (i, c) in colours.enumerated() {
                    raw[i * 4] = c.0; raw[i * 4 + 1] = c.1; raw[i * 4 + 2] = c.2; raw[i * 4 + 3] = 255
                }
            }
            palette = chosen
            data = (0..<n).map { image.pixels[$0 * 3] > 240 ? 1 : UInt8(2 + $0 % 2) }
        }
        spng_set_ihdr(ctx, &header)
        if var palette { spng_set_plte(ctx, &palette) }  // after the header, which it depends on
        var profileBytes = (iccProfile ?? []).map { CChar(bitPattern: $0) }
        if iccProfile != nil {
            profileBytes.withUnsafeMutableBufferPointer { profile in
                var chunk = spng_iccp()
                withUnsafeMutableBytes(of: &chunk.profile_name) { $0.copyBytes(from: Array("icc".utf8)) }
                (chunk.profile_len, chunk.profile) = (profile.count, profile.baseAddress)
                spng_set_iccp(ctx, &chunk)
            }
        }
        let status = data.withUnsafeBytes {
            spng_encode_image(
                ctx, $0.baseAddress, $0.count, Int32(SPNG_FMT_PNG.rawValue), Int32(SPNG_ENCODE_FINALIZE.rawValue))
        }
        precondition(status == 0, "\(kind): " + String(cString: spng_strerror(status)))
        var length = 0, error: Int32 = 0
        let buffer = spng_get_png_buffer(ctx, &length, &error)!
        defer { free(buffer) }
        return Array(UnsafeRawBufferPointer(start: buffer, count: length))
    }

    public static func webp(_ image: RGBImage, lossless: Bool = false) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        let size = image.pixels.withUnsafeBufferPointer { p in
            lossless
                ? WebPEncodeLosslessRGB(
                    p.baseAddress, Int32(image.width), Int32(image.height), Int32(image.width * 3), &output)
                : WebPEncodeRGB(
                    p.baseAddress, Int32(image.width), Int32(image.height), Int32(image.width * 3), 90, &output)
        }
        precondition(size > 0)
        defer { WebPFree(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }

    /// An animated WebP of the given frames, 100 ms each.
    public static func animatedWebP(_ frames: [RGBImage]) -> [UInt8] {
        var options = WebPAnimEncoderOptions()
        precondition(WebPAnimEncoderOptionsInit(&options) != 0)
        let encoder = WebPAnimEncoderNew(Int32(frames[0].width), Int32(frames[0].height), &options)!
        defer { WebPAnimEncoderDelete(encoder) }
        var config = WebPConfig()
        precondition(WebPConfigInit(&config) != 0)
        config.lossless = 1
        for (i, frame) in frames.enumerated() {
            var picture = WebPPicture()
            precondition(WebPPictureInit(&picture) != 0)
            picture.width = Int32(frame.width)
            picture.height = Int32(frame.height)
            picture.use_argb = 1
            _ = frame.pixels.withUnsafeBufferPointer {
                WebPPictureImportRGB(&picture, $0.baseAddress, Int32(frame.width * 3))
            }
            precondition(WebPAnimEncoderAdd(encoder, &picture, Int32(i * 100), &config) != 0)
            WebPPictureFree(&picture)
        }
        WebPAnimEncoderAdd(encoder, nil, Int32(frames.count * 100), nil)
        var data = WebPData()
        precondition(WebPAnimEncoderAssemble(encoder, &data) != 0)
        defer { WebPDataClear(&data) }
        return Array(UnsafeBufferPointer(start: data.bytes, count: data.size))
    }

    /// A gray PNG of 1, 2 or 4 bits per pixel: the green channel quantised, packed MSB first.
    public static func lowDepthGrayPNG(_ image: RGBImage, bits: UInt8) -> [UInt8] {
        let ctx = spng_ctx_new(Int32(SPNG_CTX_ENCODER.rawValue))!
        defer { spng_ctx_free(ctx) }
        spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1)
        var header = spng_ihdr(
            width: UInt32(image.width), height: UInt32(image.height), bit_depth: bits, color_type: 0,
            compression_method: 0, filter_method: 0, interlace_method: 0)
        spng_set_ihdr(ctx, &header)
        let levels = (1 << Int(bits)) - 1, perByte = 8 / Int(bits), rowBytes = (image.width + perByte - 1) / perByte
        var data = [UInt8](repeating: 0, count: rowBytes * image.height)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let level = min(levels, Int(image.pixels[(y * image.width + x) * 3 + 1]) * (levels + 1) / 256)
                data[y * rowBytes + x / perByte] |= UInt8(level << (8 - Int(bits) * (x % perByte + 1)))
            }
        }
        let status = data.withUnsafeBytes {
            spng_encode_image(
                ctx, $0.baseAddress, $0.count, Int32(SPNG_FMT_PNG.rawValue), Int32(SPNG_ENCODE_FINALIZE.rawValue))
        }
        precondition(status == 0, String(cString: spng_strerror(status)))
        var length = 0, error: Int32 = 0
        let buffer = spng_get_png_buffer(ctx, &length, &error)!
        defer { free(buffer) }
        return Array(UnsafeRawBufferPointer(start: buffer, count: length))
    }

    /// A small JPEG whose frame header claims `width` × `height`: a header bomb.
    public static func jpegClaiming(width: UInt16, height: UInt16) -> [UInt8] {
        var bytes = jpeg(composition(width: 64, height: 48, seed: 3))
        for i in 0..<(bytes.count - 9) where bytes[i] == 0xFF && (bytes[i + 1] == 0xC0 || bytes[i + 1] == 0xC2) {
            bytes[i + 5] = UInt8(height >> 8); bytes[i + 6] = UInt8(height & 0xFF)
            bytes[i + 7] = UInt8(width >> 8); bytes[i + 8] = UInt8(width & 0xFF)
            break
        }
        return bytes
    }

    /// A small PNG whose IHDR claims `width` × `height`, with a correct CRC so only the size is
    /// wrong: a header bomb (1,000,000,000 × 1 is 74 bytes of file).
    public static func pngClaiming(width: UInt32, height: UInt32) -> [UInt8] {
        var bytes = png(composition(width: 64, height: 48, seed: 4), kind: .rgb8)
        for (offset, value) in [(16, width), (20, height)] {
            for b in 0..<4 { bytes[offset + b] = UInt8((value >> (24 - 8 * UInt32(b))) & 0xFF) }
        }
        let crc = crc32(bytes[12..<29])
        for b in 0..<4 { bytes[29 + b] = UInt8((crc >> (24 - 8 * UInt32(b))) & 0xFF) }
        return bytes
    }

    /// CRC-32 (PNG's), for forging headers that pass the chunk check.
    public static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
