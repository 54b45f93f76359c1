import CWebP

/// WebP through libwebp, scaled by libwebp's own scaler to the target, alpha composited on white.
/// An animated WebP gives its first frame.
enum WebPDecoder {
    static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        var data = bytes
        var demuxer: OpaquePointer?
        defer { if let demuxer { WebPDemuxDelete(demuxer) } }
        var features = WebPBitstreamFeatures()
        guard
            WebPGetFeatures(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &features)
                == VP8_STATUS_OK
        else {
            throw ImageError(path: path, kind: .corrupt, reason: "corrupt WebP: unreadable header")
        }
        if features.has_animation != 0 {
            var whole = WebPData(bytes: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), size: bytes.count)
            demuxer = WebPDemux(&whole)
            var frame = WebPIterator()
            guard let demuxer, WebPDemuxGetFrame(demuxer, 1, &frame) != 0 else {
                throw ImageError(path: path, kind: .corrupt, reason: "corrupt animated WebP: no first frame")
            }
            data = UnsafeRawBufferPointer(start: frame.fragment.bytes, count: frame.fragment.size)
            WebPDemuxReleaseIterator(&frame)
            guard
                WebPGetFeatures(data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, &features)
                    == VP8_STATUS_OK
            else {
                throw ImageError(path: path, kind: .corrupt, reason: "corrupt animated WebP: unreadable first frame")
            }
        }
        let width = Int(features.width), height = Int(features.height)
        try options.admit(width: width, height: height, path: path)
        let (w, h) = options.outputSize(width: width, height: height)
        try options.admit(width: w, height: h, heldWhole: true, path: path)
        var config = WebPDecoderConfig()
        guard WebPInitDecoderConfig(&config) != 0 else {
            throw ImageError(path: path, kind: .unreadable, reason: "libwebp version mismatch")
        }
        config.options.use_scaling = (w, h) != (width, height) ? 1 : 0
        config.options.scaled_width = Int32(w)
        config.options.scaled_height = Int32(h)
        config.output.colorspace = MODE_RGBA
        let status = WebPDecode(data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, &config)
        defer { WebPFreeDecBuffer(&config.output) }
        guard status == VP8_STATUS_OK else {
            let reason =
                status == VP8_STATUS_NOT_ENOUGH_DATA
                ? "truncated WebP data" : "corrupt WebP data (libwebp status \(status.rawValue))"
            throw ImageError(path: path, kind: .corrupt, reason: reason)
        }
        let outW = Int(config.output.width), outH = Int(config.output.height)
        let stride = Int(config.output.u.RGBA.stride)
        let rgba = config.output.u.RGBA.rgba!
        var image = RGBImage(width: outW, height: outH)
        for y in 0..<outH {
            for x in 0..<outW {
                let s = y * stride + x * 4, a = Int(rgba[s + 3])
                for c in 0..<3 {
                    image.pixels[(y * outW + x) * 3 + c] = UInt8((Int(rgba[s + c]) * a + 255 * (255 - a) + 127) / 255)
                }
            }
        }
        return DecodedImage(
            image: image, format: .webp, originalWidth: width, originalHeight: height,
            embeddedProfile: iccProfile(bytes))
    }

    /// The ICCP chunk of an extended (VP8X) file that flags one.
    private static func iccProfile(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        guard bytes.count > 20, bytes[12..<16].elementsEqual("VP8X".utf8), bytes[20] & 0x20 != 0 else { return nil }
        var whole = WebPData(bytes: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), size: bytes.count)
        guard let demuxer = WebPDemux(&whole) else { return nil }
        defer { WebPDemuxDelete(demuxer) }
        var chunk = WebPChunkIterator()
        guard WebPDemuxGetChunk(demuxer, "ICCP", 1, &chunk) != 0 else { return nil }
        defer { WebPDemuxReleaseChunkIterator(&chunk) }
        return Array(UnsafeRawBufferPointer(start: chunk.chunk.bytes, count: chunk.chunk.size))
    }
}
