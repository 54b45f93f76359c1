import CKindredKernels
import CSPNG

/// PNG through libspng, in every bit depth and colour type (gray, palette, RGB, with alpha or
/// tRNS), alpha composited on white. Non-interlaced images stream row by row into the area
/// resampler, so memory is a few rows whatever the image's size; interlaced ones arrive pass by
/// pass and are decoded whole, under the in-memory pixel limit. The image data of a
/// non-interlaced file is inflated by ISA-L (`InflatingPNGStream`): inflating is most of a PNG's
/// decoding, and zlib's is the slow part.
enum PNGDecoder {
    /// `inflatingFirst: false` reads the file through libspng and zlib alone (the tests' check
    /// that both routes agree).
    static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions, inflatingFirst: Bool = true
    ) throws(ImageError) -> DecodedImage {
        let stream =
            inflatingFirst
            ? InflatingPNGStream(bytes) { width, height in
                (try? options.admit(width: width, height: height, path: path)) != nil
            } : nil
        guard let stream else { return try decode(bytes, path: path, options: options, through: nil) }
        do {
            return try decode(bytes, path: path, options: options, through: stream)
        } catch {
            // Whatever went wrong, libspng alone says what it makes of the file: the same pixels
            // or the same error by either route. A damaged file is decoded twice; a sound one,
            // once.
            return try decode(bytes, path: path, options: options, through: nil)
        }
    }

    /// One decode, from `stream` or else straight from `bytes`.
    private static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions, through stream: InflatingPNGStream?
    ) throws(ImageError) -> DecodedImage {
        // Every chunk's CRC-32 is still checked, and covers the compressed image data, so
        // damage to a file is still refused; the zlib stream's own Adler-32 over the inflated
        // bytes repeats that check at 8 % of a large PNG's decode. Chromium skips it in libpng
        // for the same reason (PNG_IGNORE_ADLER32).
        guard let ctx = spng_ctx_new(Int32(SPNG_CTX_IGNORE_ADLER32.rawValue)) else {
            throw ImageError(path: path, kind: .unreadable, reason: "cannot start the PNG decoder")
        }
        defer { spng_ctx_free(ctx) }
        func check(_ code: Int32, _ stage: String) throws(ImageError) {
            guard code != 0 else { return }
            let message = String(cString: spng_strerror(code))
            let reason: String
            if message.contains("crc") || message.contains("CRC") || message.contains("checksum") {
                reason = "PNG CRC mismatch (\(stage))"
            } else if code == Int32(SPNG_EOF.rawValue) || message.contains("end of") {
                reason = "truncated PNG data (\(stage))"
            } else {
                reason = "corrupt PNG: \(stage): \(message)"
            }
            throw ImageError(path: path, kind: .corrupt, reason: reason)
        }
        if let stream {
            try check(stream.attach(to: ctx), "stream")
        } else {
            try check(spng_set_png_buffer(ctx, bytes.baseAddress, bytes.count), "buffer")
        }
        // Ancillary chunks (text, ICC profiles) are capped; image data is not limited here.
        spng_set_chunk_limits(ctx, 64 << 20, 64 << 20)
        var header = spng_ihdr()
        try check(spng_get_ihdr(ctx, &header), "header")
        let width = Int(header.width), height = Int(header.height)
        let interlaced = header.interlace_method != 0
        // An iCCP chunk's profile (converted from by ImageDecoder); a damaged one reads as none.
        var iccp = spng_iccp()
        let profile =
            spng_get_iccp(ctx, &iccp) == 0 && iccp.profile != nil
            ? Array(UnsafeRawBufferPointer(start: iccp.profile, count: iccp.profile_len)) : nil
        try options.admit(width: width, height: height, heldWhole: interlaced, path: path)
        let (outputWidth, outputHeight) = options.outputSize(width: width, height: height)
        var resampler = AreaResampler(
            inputWidth: width, inputHeight: height, outputWidth: outputWidth, outputHeight: outputHeight)
        let format = Int32(SPNG_FMT_RGBA8.rawValue)
        let flags = Int32(SPNG_DECODE_TRNS.rawValue)
        var rgb = [UInt8](repeating: 0, count: width * 3)

        if interlaced {
            var size = 0
            try check(spng_decoded_image_size(ctx, format, &size), "size")
            var rgba = [UInt8](repeating: 0, count: size)
            try check(
                rgba.withUnsafeMutableBytes { spng_decode_image(ctx, $0.baseAddress, size, format, flags) },
                "image data")
            for y in 0..<height {
                composite(rgba, offset: y * width * 4, width: width, into: &rgb)
                rgb.withUnsafeBufferPointer { resampler.add(row: $0.baseAddress!) }
            }
        } else {
            try check(
                spng_decode_image(ctx, nil, 0, format, flags | Int32(SPNG_DECODE_PROGRESSIVE.rawValue)), "image data")
            var rgba = [UInt8](repeating: 0, count: width * 4)
            for _ in 0..<height {
                let code = rgba.withUnsafeMutableBytes { spng_decode_row(ctx, $0.baseAddress, width * 4) }
                if code != 0 && code != Int32(SPNG_EOI.rawValue) { try check(code, "image data") }
                composite(rgba, offset: 0, width: width, into: &rgb)
                rgb.withUnsafeBufferPointer { resampler.add(row: $0.baseAddress!) }
            }
        }
        // Read through to IEND: a file cut after its image data is still a truncated file.
        try check(spng_decode_chunks(ctx), "after image data")
        return DecodedImage(
            image: resampler.output, format: .png, originalWidth: width, originalHeight: height,
            embeddedProfile: profile, resampleTime: resampler.busy)
    }

    /// RGBA → RGB over white, in the C kernel: it runs on every pixel of the file.
    private static func composite(_ rgba: [UInt8], offset: Int, width: Int, into rgb: inout [UInt8]) {
        precondition(offset >= 0 && offset + width * 4 <= rgba.count && width * 3 <= rgb.count)
        rgba.withUnsafeBufferPointer { source in
            rgb.withUnsafeMutableBufferPointer { destination in
                kk_rgba_over_white(PixelKernels.level, source.baseAddress! + offset, width, destination.baseAddress!)
            }
        }
    }
}
