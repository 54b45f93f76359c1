import CHEIF

/// HEIC and AVIF through libheif: the primary image, with the rotation, mirroring and crop the
/// file asks for (libheif applies them as it decodes), alpha composited on white, shrunk by the
/// area resampler. HEIF has no reduced-resolution decode, so its own shortcut is taken instead: a
/// stored thumbnail is decoded when it still covers the target (one of 320 × 240 does not cover a
/// 256-pixel short side, so the primary image is decoded then).
///
/// The size rules are `DecodeOptions`': libheif is told the longest side it may accept, and the
/// primary image's size (after rotation) is admitted before anything is decoded. A decoded image
/// is held whole, so it must also fit `pixelLimit`.
enum HEIFDecoder {
    static func decode(
        _ bytes: UnsafeRawBufferPointer, format: ImageFormat, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        guard let context = heif_context_alloc() else {
            throw ImageError(path: path, kind: .unreadable, reason: "libheif could not allocate a context")
        }
        defer { heif_context_free(context) }
        heif_context_set_maximum_image_size_limit(context, Int32(min(options.maxSide, Int(Int32.max))))
        // Grid tiles are decoded on the calling thread: ingestion already runs a decoder per core.
        heif_context_set_max_decoding_threads(context, 0)
        try check(
            heif_context_read_from_memory_without_copy(context, bytes.baseAddress, bytes.count, nil), "container",
            format, path)
        var primary: OpaquePointer?
        try check(heif_context_get_primary_image_handle(context, &primary), "primary image", format, path)
        guard let primary else { throw corrupt("no primary image", format, path) }
        defer { heif_image_handle_release(primary) }
        let width = Int(heif_image_handle_get_width(primary)), height = Int(heif_image_handle_get_height(primary))
        try options.admit(width: width, height: height, path: path)
        let (outputWidth, outputHeight) = options.outputSize(width: width, height: height)

        let thumbnail = coveringThumbnail(of: primary, output: (outputWidth, outputHeight), width: width)
        defer { if let thumbnail { heif_image_handle_release(thumbnail) } }
        let source = thumbnail ?? primary
        let sourceWidth = Int(heif_image_handle_get_width(source))
        let sourceHeight = Int(heif_image_handle_get_height(source))
        try options.admit(width: sourceWidth, height: sourceHeight, heldWhole: true, path: path)

        let alpha = heif_image_handle_has_alpha_channel(source) != 0
        var decoded: OpaquePointer?
        let decodingOptions = heif_decoding_options_alloc()
        defer { heif_decoding_options_free(decodingOptions) }
        decodingOptions?.pointee.convert_hdr_to_8bit = 1
        try check(
            heif_decode_image(
                source, &decoded, heif_colorspace_RGB,
                alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, decodingOptions),
            "image data", format, path)
        guard let decoded else { throw corrupt("no image decoded", format, path) }
        defer { heif_image_release(decoded) }
        var stride: Int32 = 0
        let planeWidth = Int(heif_image_get_width(decoded, heif_channel_interleaved))
        let planeHeight = Int(heif_image_get_height(decoded, heif_channel_interleaved))
        guard let plane = heif_image_get_plane_readonly(decoded, heif_channel_interleaved, &stride),
            planeWidth == sourceWidth, planeHeight == sourceHeight,
            Int(stride) >= planeWidth * (alpha ? 4 : 3)
        else {
            throw corrupt(
                "decoded plane \(planeWidth)×\(planeHeight) does not match the image's \(sourceWidth)×\(sourceHeight)",
                format, path)
        }
        let (w, h) = (min(outputWidth, sourceWidth), min(outputHeight, sourceHeight))
        var resampler = AreaResampler(
            inputWidth: sourceWidth, inputHeight: sourceHeight, outputWidth: w, outputHeight: h)
        var rgb = [UInt8](repeating: 0, count: sourceWidth * 3)
        for y in 0..<sourceHeight {
            let row = plane + y * Int(stride)
            if alpha {
                for x in 0..<sourceWidth {
                    let a = Int(row[x * 4 + 3])
                    for c in 0..<3 { rgb[x * 3 + c] = UInt8((Int(row[x * 4 + c]) * a + 255 * (255 - a) + 127) / 255) }
                }
                rgb.withUnsafeBufferPointer { resampler.add(row: $0.baseAddress!) }
            } else {
                resampler.add(row: row)
            }
        }
        return DecodedImage(
            image: resampler.output, format: format, originalWidth: width, originalHeight: height,
            embeddedProfile: iccProfile(of: primary), resampleTime: resampler.busy)
    }

    /// The primary image's ICC profile (`prof` or `rICC`), or one made from an `nclx`
    /// description whose primaries are not sRGB's (Display P3, BT.2020, …) and whose transfer is
    /// a standard-range one (HDR's PQ and HLG are left as decoded).
    private static func iccProfile(of handle: OpaquePointer) -> [UInt8]? {
        let type = heif_image_handle_get_color_profile_type(handle)
        if type == heif_color_profile_type_nclx { return nclxProfile(of: handle) }
        guard type == heif_color_profile_type_prof || type == heif_color_profile_type_rICC else { return nil }
        let size = heif_image_handle_get_raw_color_profile_size(handle)
        guard size > 0, size <= ColourManagement.maxProfileBytes else { return nil }
        var profile = [UInt8](repeating: 0, count: size)
        guard heif_image_handle_get_raw_color_profile(handle, &profile).code == heif_error_Ok else { return nil }
        return profile
    }

    private static func nclxProfile(of handle: OpaquePointer) -> [UInt8]? {
        var nclx: UnsafeMutablePointer<heif_color_profile_nclx>?
        let status = heif_image_handle_get_nclx_color_profile(handle, &nclx)
        // libheif hands the description over even when it refuses a value in it (fuzz-heif found
        // the leak), so it is freed whatever the status.
        defer { if let nclx { heif_nclx_color_profile_free(nclx) } }
        guard status.code == heif_error_Ok, let nclx else { return nil }
        let n = nclx.pointee
        let primaries = Int(n.color_primaries.rawValue), transfer = Int(n.transfer_characteristics.rawValue)
        // 1 is BT.709's primaries (sRGB's), 2 unspecified; transfers 16 and 18 are PQ and HLG.
        guard primaries != 1, primaries != 2, transfer != 16, transfer != 18 else { return nil }
        let name =
            primaries == 12 ? "Display P3 (nclx)" : primaries == 9 ? "BT.2020 (nclx)" : "nclx primaries \(primaries)"
        return ColourManagement.profile(
            red: (Double(n.color_primary_red_x), Double(n.color_primary_red_y)),
            green: (Double(n.color_primary_green_x), Double(n.color_primary_green_y)),
            blue: (Double(n.color_primary_blue_x), Double(n.color_primary_blue_y)),
            white: (Double(n.color_primary_white_x), Double(n.color_primary_white_y)), name: name)
    }

    /// The smallest stored thumbnail that still covers the output size (and has the primary
    /// image's orientation, judged by its aspect), or nil.
    private static func coveringThumbnail(
        of primary: OpaquePointer, output: (width: Int, height: Int), width: Int
    ) -> OpaquePointer? {
        let count = Int(heif_image_handle_get_number_of_thumbnails(primary))
        guard count > 0, output.width < width else { return nil }
        var ids = [heif_item_id](repeating: 0, count: min(count, 16))
        let listed = Int(heif_image_handle_get_list_of_thumbnail_IDs(primary, &ids, Int32(ids.count)))
        var best: (handle: OpaquePointer, pixels: Int)?
        for id in ids.prefix(listed) {
            var handle: OpaquePointer?
            guard heif_image_handle_get_thumbnail(primary, id, &handle).code == heif_error_Ok, let handle else {
                continue
            }
            let w = Int(heif_image_handle_get_width(handle)), h = Int(heif_image_handle_get_height(handle))
            let sameShape = (w >= h) == (output.width >= output.height)
            if sameShape, w >= output.width, h >= output.height, w * h < (best?.pixels ?? .max) {
                if let previous = best?.handle { heif_image_handle_release(previous) }
                best = (handle, w * h)
            } else {
                heif_image_handle_release(handle)
            }
        }
        return best?.handle
    }

    private static func check(
        _ error: heif_error, _ stage: String, _ format: ImageFormat, _ path: String
    ) throws(ImageError) {
        guard error.code != heif_error_Ok else { return }
        let message = error.message.map { String(cString: $0) } ?? "error \(error.code.rawValue)"
        if error.code == heif_error_Memory_allocation_error || error.subcode == heif_suberror_Security_limit_exceeded {
            throw ImageError(
                path: path, kind: .tooLarge, reason: "\(format.rawValue.uppercased()) \(stage): \(message)")
        }
        let kind: ImageError.Kind = error.code == heif_error_Unsupported_feature ? .unsupportedFormat : .corrupt
        throw ImageError(
            path: path, kind: kind, reason: "corrupt \(format.rawValue.uppercased()): \(stage): \(message)")
    }

    private static func corrupt(_ reason: String, _ format: ImageFormat, _ path: String) -> ImageError {
        ImageError(path: path, kind: .corrupt, reason: "corrupt \(format.rawValue.uppercased()): \(reason)")
    }
}
