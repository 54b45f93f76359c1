import CHEIF
import Foundation
import KindredImaging

/// HEIC and AVIF files made with libheif's own encoders (x265 for HEVC, libaom for AV1).
extension Fixtures {
    public enum HEIFCodec: String, Sendable, CaseIterable {
        case hevc, av1
    }

    /// `image` encoded with `codec` at `quality`; with `alpha` (one byte a pixel) an alpha plane,
    /// with `orientation` (EXIF numbering, 1–8) the rotation and mirroring boxes that display it
    /// so, with `thumbnail` a thumbnail fitting that square, with `iccProfile` that profile
    /// (the pixels taken to be in its space), and with `nclxPrimaries` an `nclx` description of
    /// those primaries (ISO/IEC 23091-2 numbering) and sRGB's curve.
    public static func heif(
        _ image: RGBImage, codec: HEIFCodec, quality: Int32 = 92, alpha: [UInt8]? = nil, orientation: Int = 1,
        thumbnail: Int? = nil, iccProfile: [UInt8]? = nil, nclxPrimaries: UInt16? = nil
    ) -> [UInt8] {
        let context = heif_context_alloc()!
        defer { heif_context_free(context) }
        var picture: OpaquePointer?
        let channels = alpha == nil ? 3 : 4
        _ = heif_image_create(
            Int32(image.width), Int32(image.height), heif_colorspace_RGB,
            alpha == nil ? heif_chroma_interleaved_RGB : heif_chroma_interleaved_RGBA, &picture)
        defer { heif_image_release(picture) }
        _ = heif_image_add_plane(picture, heif_channel_interleaved, Int32(image.width), Int32(image.height), 8)
        var stride: Int32 = 0
        let plane = heif_image_get_plane(picture, heif_channel_interleaved, &stride)!
        for y in 0..<image.height {
            for x in 0..<image.width {
                let to = y * Int(stride) + x * channels, from = (y * image.width + x) * 3
                for c in 0..<3 { plane[to + c] = image.pixels[from + c] }
                if let alpha { plane[to + 3] = alpha[y * image.width + x] }
            }
        }
        if let iccProfile { _ = heif_image_set_raw_color_profile(picture, "prof", iccProfile, iccProfile.count) }
        if let nclxPrimaries {
            let nclx = heif_nclx_color_profile_alloc()!
            defer { heif_nclx_color_profile_free(nclx) }
            _ = heif_nclx_color_profile_set_color_primaries(nclx, nclxPrimaries)
            _ = heif_nclx_color_profile_set_transfer_characteristics(nclx, 13)  // sRGB's curve
            _ = heif_image_set_nclx_color_profile(picture, nclx)
        }
        var encoder: OpaquePointer?
        let status = heif_context_get_encoder_for_format(
            context, codec == .hevc ? heif_compression_HEVC : heif_compression_AV1, &encoder)
        precondition(status.code == heif_error_Ok, "no \(codec) encoder in libheif")
        defer { heif_encoder_release(encoder) }
        _ = heif_encoder_set_lossy_quality(encoder, quality)
        let options = heif_encoding_options_alloc()!
        defer { heif_encoding_options_free(options) }
        options.pointee.image_orientation = heif_orientation(UInt32(orientation))
        var handle: OpaquePointer?
        let encoded = heif_context_encode_image(context, picture, encoder, options, &handle)
        precondition(encoded.code == heif_error_Ok, String(cString: encoded.message))
        defer { heif_image_handle_release(handle) }
        if let thumbnail {
            var small: OpaquePointer?
            _ = heif_context_encode_thumbnail(context, picture, handle, encoder, options, Int32(thumbnail), &small)
            if let small { heif_image_handle_release(small) }
        }
        let url = directory.appendingPathComponent("fixture-\(UUID().uuidString).\(codec == .hevc ? "heic" : "avif")")
        defer { try? FileManager.default.removeItem(at: url) }
        _ = heif_context_write_to_file(context, url.path)
        return Array(try! Data(contentsOf: url))
    }
}
