import CLibRaw

/// Camera RAW files through LibRaw: the preview JPEG the camera embedded when it covers the
/// output size (what the photographer saw on the camera, and a fraction of the work), otherwise a
/// half-size decode of the sensor data (each 2 × 2 block of the colour filter array one pixel, so
/// no demosaicing). The half-size decode takes the camera's white balance, converts to sRGB with
/// the sRGB tone curve, and leaves exposure as shot (no auto-brightening, so the same scene shot
/// twice describes the same).
///
/// Which files: those whose first bytes name a RAW container (Fujifilm RAF, Olympus ORF,
/// Panasonic RW2, Canon CR3, Minolta MRW, Sigma X3F), and TIFF-based ones (DNG, CR2, NEF, ARW,
/// PEF, …) that `mayBeRAW` picks out of ordinary TIFFs for LibRaw to confirm.
///
/// The size rules are `DecodeOptions`': the sensor's size is admitted before anything is
/// unpacked, and the unpacked sensor data (16 bits a photosite) is held whole, so it must also
/// fit `pixelLimit`.
enum RAWDecoder {
    /// TIFF tags that mark a camera's file: DNGVersion, and Make (a camera maker's TIFF is still
    /// TIFF unless LibRaw finds sensor data in it).
    static let dngVersionTag = 50706, makeTag = 271

    /// Whether a TIFF-structured file may be a camera RAW file, worth asking LibRaw about: a DNG,
    /// a Canon CR2 (its "CR" signature after the header), or any file naming a camera maker.
    static func mayBeRAW(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if bytes.count >= 10, bytes[8] == 0x43, bytes[9] == 0x52 { return true }
        guard let header = TIFFHeader(bytes) else { return false }
        return header.has(dngVersionTag) || !(header.ascii(makeTag) ?? "").isEmpty
    }

    static func decode(
        _ bytes: UnsafeRawBufferPointer, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        guard let raw = libraw_init(0) else {
            throw ImageError(path: path, kind: .unreadable, reason: "LibRaw could not allocate a decoder")
        }
        defer { libraw_close(raw) }
        // LibRaw reports damaged data through these, printing by default; its return codes say it.
        libraw_set_dataerror_handler(raw, { _, _, _ in }, nil)
        libraw_set_memerror_handler(raw, { _, _, _ in }, nil)
        // LibRaw reads the buffer only; its C API takes it as mutable.
        try check(
            libraw_open_buffer(raw, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count), "header",
            path)
        let sizes = raw.pointee.sizes
        try options.admit(width: Int(sizes.raw_width), height: Int(sizes.raw_height), heldWhole: true, path: path)
        let flip = Int(sizes.flip)
        let turned = flip == 5 || flip == 6
        let (width, height) = turned ? (Int(sizes.height), Int(sizes.width)) : (Int(sizes.width), Int(sizes.height))
        try options.admit(width: width, height: height, path: path)
        let (outputWidth, outputHeight) = options.outputSize(width: width, height: height)

        if var preview = preview(raw, covering: (outputWidth, outputHeight), flip: flip, path: path, options: options) {
            (preview.format, preview.originalWidth, preview.originalHeight) = (.raw, width, height)
            return preview
        }
        raw.pointee.params.half_size = 1
        raw.pointee.params.use_camera_wb = 1
        raw.pointee.params.no_auto_bright = 1
        raw.pointee.params.output_bps = 8
        raw.pointee.params.output_color = 1  // sRGB
        // The sRGB curve: a 2.4 power with a linear toe of slope 12.92.
        (raw.pointee.params.gamm.0, raw.pointee.params.gamm.1) = (1 / 2.4, 12.92)
        try check(libraw_unpack(raw), "sensor data", path)
        try check(libraw_dcraw_process(raw), "processing", path)
        var status: Int32 = 0
        guard let processed = libraw_dcraw_make_mem_image(raw, &status) else {
            try check(status, "output", path)
            throw ImageError(path: path, kind: .corrupt, reason: "corrupt camera RAW: no image produced")
        }
        defer { libraw_dcraw_clear_mem(processed) }
        let image = processed.pointee
        let (w, h) = (Int(image.width), Int(image.height))
        guard image.type == LIBRAW_IMAGE_BITMAP, image.colors == 3, image.bits == 8, w > 0, h > 0,
            Int(image.data_size) >= w * h * 3
        else {
            throw ImageError(
                path: path, kind: .corrupt, reason: "corrupt camera RAW: unexpected output \(w)×\(h)×\(image.colors)")
        }
        var resampler = AreaResampler(
            inputWidth: w, inputHeight: h, outputWidth: min(w, outputWidth), outputHeight: min(h, outputHeight))
        withUnsafePointer(to: &processed.pointee.data) { first in
            let data = UnsafeRawPointer(first).assumingMemoryBound(to: UInt8.self)
            for y in 0..<h { resampler.add(row: data + y * w * 3) }
        }
        return DecodedImage(
            image: resampler.output, format: .raw, originalWidth: width, originalHeight: height,
            resampleTime: resampler.busy)
    }

    /// The embedded preview, when it is a JPEG whose shorter side covers the output's, decoded
    /// (with its own ICC profile, if any) and turned as the sensor data would be; nil otherwise,
    /// or when the preview is damaged.
    private static func preview(
        _ raw: UnsafeMutablePointer<libraw_data_t>, covering output: (width: Int, height: Int), flip: Int, path: String,
        options: DecodeOptions
    ) -> DecodedImage? {
        // The preview's size is known from the header; its format only once it is unpacked.
        let listed = raw.pointee.thumbnail
        guard min(Int(listed.twidth), Int(listed.theight)) >= min(output.width, output.height),
            libraw_unpack_thumb(raw) == LIBRAW_SUCCESS.rawValue
        else { return nil }
        let thumbnail = raw.pointee.thumbnail
        guard let data = thumbnail.thumb, thumbnail.tlength > 0, thumbnail.tformat == LIBRAW_THUMBNAIL_JPEG else {
            return nil
        }
        let jpeg = UnsafeRawBufferPointer(start: data, count: Int(thumbnail.tlength))
        guard ImageFormat.sniff(jpeg) == .jpeg,
            var decoded = try? JPEGDecoder.decode(jpeg, path: path, options: options)
        else { return nil }
        // LibRaw's flip: 3 is a half turn, 5 a quarter turn anticlockwise, 6 clockwise (EXIF 3, 8, 6).
        decoded.image = decoded.image.oriented([3: 3, 5: 8, 6: 6][flip] ?? 1)
        return decoded
    }

    private static func check(_ code: Int32, _ stage: String, _ path: String) throws(ImageError) {
        guard code != LIBRAW_SUCCESS.rawValue else { return }
        let message = String(cString: libraw_strerror(code))
        switch code {
        case LIBRAW_FILE_UNSUPPORTED.rawValue:
            throw ImageError(
                path: path, kind: .unsupportedFormat, reason: "camera RAW not supported by LibRaw: \(message)")
        case LIBRAW_UNSUFFICIENT_MEMORY.rawValue, LIBRAW_TOO_BIG.rawValue:
            throw ImageError(path: path, kind: .tooLarge, reason: "camera RAW \(stage): \(message)")
        default:
            throw ImageError(path: path, kind: .corrupt, reason: "corrupt camera RAW: \(stage): \(message)")
        }
    }
}
