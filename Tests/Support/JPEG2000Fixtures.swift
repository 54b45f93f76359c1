import COpenJPEG
import Foundation
import KindredImaging

/// JPEG 2000 files made with OpenJPEG's own encoder.
extension Fixtures {
    public enum JPEG2000Colour: Sendable, CaseIterable {
        /// sRGB, one component each.
        case rgb
        /// sRGB with an alpha component (from `alpha`, or a left-to-right ramp).
        case rgba
        /// The luma of the picture, one component.
        case gray
        /// sYCC with chroma at half resolution each way (4:2:0), as cameras and scanners write.
        case ycc420
        /// Four inks through the default CMYK profile.
        case cmyk
    }

    /// `image` as JPEG 2000: JP2 boxes, or with `codestream` a bare J2K codestream; lossless
    /// (5/3 wavelet) or with `ratio` lossy (9/7) at that compression ratio; `levels` resolution
    /// levels (fewer when the image is too small for them); with `tile` in tiles of that side;
    /// samples of `bits` precision (8 or 16); with `iccProfile`, that profile in the `colr` box.
    public static func jpeg2000(
        _ image: RGBImage, colour: JPEG2000Colour = .rgb, codestream: Bool = false, ratio: Float? = nil,
        levels: Int32 = 6, tile: Int32? = nil, bits: Int = 8, alpha: [UInt8]? = nil, iccProfile: [UInt8]? = nil
    ) -> [UInt8] {
        let (w, h) = (image.width, image.height)
        let count = [JPEG2000Colour.rgb: 3, .rgba: 4, .gray: 1, .ycc420: 3, .cmyk: 4][colour]!
        let inks = colour == .cmyk ? converted(image, into: defaultCMYKProfile) : []
        let scale = (1 << bits) - 1
        var parameters = (0..<count).map { c in
            let sub = colour == .ycc420 && c > 0 ? 2 : 1
            var p = opj_image_cmptparm_t()
            (p.dx, p.dy, p.w, p.h) = (
                OPJ_UINT32(sub), OPJ_UINT32(sub), OPJ_UINT32((w + sub - 1) / sub), OPJ_UINT32((h + sub - 1) / sub)
            )
            (p.prec, p.sgnd) = (OPJ_UINT32(bits), 0)
            return p
        }
        let space: OPJ_COLOR_SPACE =
            switch colour {
            case .gray: OPJ_CLRSPC_GRAY
            case .ycc420: OPJ_CLRSPC_SYCC
            case .cmyk: OPJ_CLRSPC_CMYK
            case .rgb, .rgba: OPJ_CLRSPC_SRGB
            }
        let picture = opj_image_create(OPJ_UINT32(count), &parameters, space)!
        defer { opj_image_destroy(picture) }
        (picture.pointee.x0, picture.pointee.y0, picture.pointee.x1, picture.pointee.y1) = (
            0, 0, OPJ_UINT32(w), OPJ_UINT32(h)
        )
        func pixel(_ x: Int, _ y: Int) -> (Double, Double, Double) {
            let i = (y * w + x) * 3
            return (Double(image.pixels[i]), Double(image.pixels[i + 1]), Double(image.pixels[i + 2]))
        }
        for c in 0..<count {
            let component = picture.pointee.comps[c]
            let sub = Int(component.dx)
            for y in 0..<Int(component.h) {
                for x in 0..<Int(component.w) {
                    let (r, g, b) = pixel(min(w - 1, x * sub), min(h - 1, y * sub))
                    let luma = 0.299 * r + 0.587 * g + 0.114 * b
                    let value: Double =
                        switch (colour, c) {
                        case (.gray, _), (.ycc420, 0): luma
                        case (.ycc420, 1): 128 + (b - luma) / 1.772
                        case (.ycc420, _): 128 + (r - luma) / 1.402
                        case (.cmyk, _): Double(inks[(y * w + x) * 4 + c])
                        case (_, 3): Double(alpha?[y * w + x] ?? UInt8(x * 255 / max(1, w - 1)))
                        default: [r, g, b][c]
                        }
                    component.data[y * Int(component.w) + x] = OPJ_INT32((value * Double(scale) / 255).rounded())
                }
            }
            if colour == .rgba, c == 3 { picture.pointee.comps[c].alpha = 1 }
        }

        var settings = opj_cparameters_t()
        opj_set_default_encoder_parameters(&settings)
        // Each level halves the image; OpenJPEG refuses more levels than the smaller side allows.
        settings.numresolution = min(levels, Int32(Int.bitWidth - min(w, h).leadingZeroBitCount))
        settings.tcp_numlayers = 1
        settings.cp_disto_alloc = 1
        settings.tcp_mct = colour == .rgb || colour == .rgba ? 1 : 0
        if let ratio {
            settings.irreversible = 1
            withUnsafeMutableBytes(of: &settings.tcp_rates) { $0.bindMemory(to: Float.self)[0] = ratio }
        }
        if let tile { (settings.tile_size_on, settings.cp_tdx, settings.cp_tdy) = (1, tile, tile) }
        let codec = opj_create_compress(codestream ? OPJ_CODEC_J2K : OPJ_CODEC_JP2)!
        defer { opj_destroy_codec(codec) }
        opj_set_error_handler(codec, { text, _ in if let text { print("OpenJPEG:", String(cString: text)) } }, nil)
        precondition(opj_setup_encoder(codec, &settings, picture) != 0, "OpenJPEG refused the encoder settings")

        let sink = Sink()
        let stream = opj_stream_create(1 << 16, 0)!
        defer { opj_stream_destroy(stream) }
        opj_stream_set_user_data(stream, Unmanaged.passUnretained(sink).toOpaque(), nil)
        opj_stream_set_write_function(stream) { buffer, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: buffer, count: count)
            let end = sink.position + count
            if end > sink.bytes.count { sink.bytes += [UInt8](repeating: 0, count: end - sink.bytes.count) }
            sink.bytes.replaceSubrange(sink.position..<end, with: bytes)
            sink.position = end
            return count
        }
        opj_stream_set_skip_function(stream) { distance, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            sink.position += Int(distance)
            return distance
        }
        opj_stream_set_seek_function(stream) { position, context in
            Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue().position = Int(position)
            return 1
        }
        precondition(
            opj_start_compress(codec, picture, stream) != 0 && opj_encode(codec, stream) != 0
                && opj_end_compress(codec, stream) != 0, "OpenJPEG could not encode the fixture")
        if colour == .cmyk, !codestream { return markingCMYK(sink.bytes) }
        guard let iccProfile, !codestream else { return sink.bytes }
        return replacingColourBox(of: sink.bytes, with: iccProfile)
    }

    /// OpenJPEG 2.5.0's encoder leaves a CMYK image's `colr` box unspecified (enumerated colour
    /// space 0); the standard's number for CMYK is 12.
    private static func markingCMYK(_ jp2: [UInt8]) -> [UInt8] {
        var out = jp2
        let colour = (4..<(jp2.count - 4)).first { jp2[$0..<($0 + 4)].elementsEqual("colr".utf8) }!
        // The enumerated colour space follows the method, precedence and approximation bytes.
        out.replaceSubrange((colour + 7)..<(colour + 11), with: [0, 0, 0, 12])
        return out
    }

    /// OpenJPEG's encoder cannot write a profile, so the JP2 header's `colr` box (method 1, an
    /// enumerated colour space) is replaced by one of method 2 carrying the profile, and the
    /// enclosing `jp2h` box's length grown to match.
    private static func replacingColourBox(of jp2: [UInt8], with profile: [UInt8]) -> [UInt8] {
        func find(_ type: String) -> Int {
            (4..<(jp2.count - 4)).first { jp2[$0..<($0 + 4)].elementsEqual(type.utf8) }! - 4
        }
        func u32(_ at: Int) -> Int { jp2[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        func bytes(_ v: Int) -> [UInt8] {
            [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        let header = find("jp2h"), colour = find("colr")
        let oldLength = u32(colour)
        let box = bytes(8 + 3 + profile.count) + Array("colr".utf8) + [2, 0, 0] + profile
        var out = Array(jp2[..<colour]) + box + Array(jp2[(colour + oldLength)...])
        out.replaceSubrange(header..<(header + 4), with: bytes(u32(header) - oldLength + box.count))
        return out
    }

    private final class Sink {
        var bytes: [UInt8] = []
        var position = 0
    }
}
