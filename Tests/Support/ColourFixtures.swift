import CLCMS2
import CWebP
import Foundation
import KindredImaging

/// Colour-managed fixtures made with LittleCMS: pictures converted from sRGB into Adobe RGB or
/// into CMYK inks, and ICC profiles to embed, so a decoder's conversion back can be checked
/// against the sRGB original.
extension Fixtures {
    /// Adobe RGB (1998), built from its published white point (D65), primaries and gamma
    /// (563/256), described as "Adobe RGB (1998)".
    public static let adobeRGBProfile = rgbProfile(
        red: (0.64, 0.33), green: (0.21, 0.71), blue: (0.15, 0.06), curve: cmsBuildGamma(nil, 563.0 / 256.0)!,
        name: "Adobe RGB (1998)")

    /// Display P3: DCI-P3's primaries, D65 white and sRGB's curve, as Apple's phones shoot.
    public static let displayP3Profile = rgbProfile(
        red: (0.680, 0.320), green: (0.265, 0.690), blue: (0.150, 0.060),
        curve: cmsBuildParametricToneCurve(nil, 4, [2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045])!,
        name: nil)

    /// An RGB profile with D65 white, the given primaries (CIE xy) and tone curve (freed here),
    /// described as `name` if one is given.
    private static func rgbProfile(
        red: (Double, Double), green: (Double, Double), blue: (Double, Double), curve: OpaquePointer, name: String?
    ) -> [UInt8] {
        defer { cmsFreeToneCurve(curve) }
        var white = cmsCIExyY(x: 0.3127, y: 0.3290, Y: 1)
        var primaries = cmsCIExyYTRIPLE(
            Red: cmsCIExyY(x: red.0, y: red.1, Y: 1), Green: cmsCIExyY(x: green.0, y: green.1, Y: 1),
            Blue: cmsCIExyY(x: blue.0, y: blue.1, Y: 1))
        var curves: [OpaquePointer?] = [curve, curve, curve]
        let profile = cmsCreateRGBProfile(&white, &primaries, &curves)!
        defer { cmsCloseProfile(profile) }
        if let name {
            let text = cmsMLUalloc(nil, 1)!
            defer { cmsMLUfree(text) }
            cmsMLUsetASCII(text, "en", "US", name)
            cmsWriteTag(profile, cmsSigProfileDescriptionTag, UnsafeRawPointer(text))
        }
        return save(profile)
    }

    /// Ghostscript's default CMYK profile, the one Kindred assumes for CMYK without a profile.
    public static let defaultCMYKProfile: [UInt8] = [UInt8](
        FileManager.default.contents(atPath: "/usr/share/color/icc/ghostscript/default_cmyk.icc")!)

    /// Another CMYK profile Ghostscript ships ("Artifex PS CMYK Profile"), for files that embed
    /// one other than the default.
    public static let otherCMYKProfile: [UInt8] = [UInt8](
        FileManager.default.contents(atPath: "/usr/share/color/icc/ghostscript/ps_cmyk.icc")!)

    /// `image`'s sRGB pixels converted into `profile`'s space: three bytes a pixel for an RGB
    /// profile, four inks (0 = none) for a CMYK one.
    public static func converted(_ image: RGBImage, into profile: [UInt8]) -> [UInt8] {
        let output = profile.withUnsafeBytes { cmsOpenProfileFromMem($0.baseAddress, cmsUInt32Number($0.count)) }!
        defer { cmsCloseProfile(output) }
        let sRGB = cmsCreate_sRGBProfile()!
        defer { cmsCloseProfile(sRGB) }
        let cmyk = cmsGetColorSpace(output) == cmsSigCmykData
        let transform = cmsCreateTransform(
            sRGB, kk_lcms_rgb8, output, cmyk ? kk_lcms_cmyk8 : kk_lcms_rgb8,
            cmsUInt32Number(INTENT_RELATIVE_COLORIMETRIC),
            cmsUInt32Number(cmsFLAGS_BLACKPOINTCOMPENSATION))!
        defer { cmsDeleteTransform(transform) }
        let count = image.width * image.height
        var out = [UInt8](repeating: 0, count: count * (cmyk ? 4 : 3))
        image.pixels.withUnsafeBytes { input in
            out.withUnsafeMutableBytes {
                cmsDoTransform(transform, input.baseAddress, $0.baseAddress, cmsUInt32Number(count))
            }
        }
        return out
    }

    /// `image` converted into the CMYK `profile` and back to sRGB (relative colorimetric with
    /// black-point compensation both ways): what a correct reader of such inks can recover, the
    /// press gamut's clipping included.
    public static func roundTrip(_ image: RGBImage, through profile: [UInt8]) -> RGBImage {
        let inks = converted(image, into: profile)
        let cmyk = profile.withUnsafeBytes { cmsOpenProfileFromMem($0.baseAddress, cmsUInt32Number($0.count)) }!
        defer { cmsCloseProfile(cmyk) }
        let sRGB = cmsCreate_sRGBProfile()!
        defer { cmsCloseProfile(sRGB) }
        let transform = cmsCreateTransform(
            cmyk, kk_lcms_cmyk8, sRGB, kk_lcms_rgb8, cmsUInt32Number(INTENT_RELATIVE_COLORIMETRIC),
            cmsUInt32Number(cmsFLAGS_BLACKPOINTCOMPENSATION))!
        defer { cmsDeleteTransform(transform) }
        var back = image
        inks.withUnsafeBytes { input in
            back.pixels.withUnsafeMutableBytes {
                cmsDoTransform(
                    transform, input.baseAddress, $0.baseAddress, cmsUInt32Number(image.width * image.height))
            }
        }
        return back
    }

    /// A JPEG with `profile` embedded in APP2 `ICC_PROFILE` segments (split as the standard
    /// allows, at most 65,519 bytes a segment), right after its SOI.
    public static func embedding(_ profile: [UInt8], inJPEG jpeg: [UInt8]) -> [UInt8] {
        let chunkSize = 65_519
        let chunks = stride(from: 0, to: profile.count, by: chunkSize).map {
            Array(profile[$0..<min(profile.count, $0 + chunkSize)])
        }
        var segments: [UInt8] = []
        for (i, chunk) in chunks.enumerated() {
            let length = 2 + 12 + 2 + chunk.count
            segments += [0xFF, 0xE2, UInt8(length >> 8), UInt8(length & 0xFF)] + Array("ICC_PROFILE\0".utf8)
            segments += [UInt8(i + 1), UInt8(chunks.count)] + chunk
        }
        return Array(jpeg[0..<2]) + segments + Array(jpeg[2...])
    }

    /// A WebP with `profile` in an ICCP chunk (libwebpmux makes the extended VP8X container).
    public static func embedding(_ profile: [UInt8], inWebP webp: [UInt8]) -> [UInt8] {
        let mux = webp.withUnsafeBufferPointer { bytes in
            var image = WebPData(bytes: bytes.baseAddress, size: bytes.count)
            return WebPMuxCreate(&image, 1)!
        }
        defer { WebPMuxDelete(mux) }
        var output = WebPData()
        profile.withUnsafeBufferPointer { bytes in
            var chunk = WebPData(bytes: bytes.baseAddress, size: bytes.count)
            precondition(WebPMuxSetChunk(mux, "ICCP", &chunk, 1) == WEBP_MUX_OK)
        }
        precondition(WebPMuxAssemble(mux, &output) == WEBP_MUX_OK)
        defer { WebPDataClear(&output) }
        return Array(UnsafeBufferPointer(start: output.bytes, count: output.size))
    }

    /// A 24-bit BMP with a version 5 header and `profile` embedded after the pixels.
    public static func bmpV5(_ image: RGBImage, iccProfile profile: [UInt8]) -> [UInt8] {
        let (w, h) = (image.width, image.height), stride = (w * 3 + 3) / 4 * 4
        func le(_ v: Int, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let pixelsAt = 14 + 124, profileAt = pixelsAt + stride * h
        var header = le(124, 4) + le(w, 4) + le(h, 4) + le(1, 2) + le(24, 2) + le(0, 4) + le(stride * h, 4)
        header += le(2835, 4) + le(2835, 4) + le(0, 4) + le(0, 4) + [UInt8](repeating: 0, count: 16)  // no masks
        header += le(0x4D42_4544, 4) + [UInt8](repeating: 0, count: 36 + 12)  // 'MBED', endpoints, gamma
        header += le(4, 4) + le(profileAt - 14, 4) + le(profile.count, 4) + le(0, 4)  // intent, profile, reserved
        var out = Array("BM".utf8) + le(profileAt + profile.count, 4) + le(0, 4) + le(pixelsAt, 4) + header
        for y in (0..<h).reversed() {
            var row = [UInt8](repeating: 0, count: stride)
            for x in 0..<w {
                let p = (y * w + x) * 3
                (row[x * 3], row[x * 3 + 1], row[x * 3 + 2]) = (
                    image.pixels[p + 2], image.pixels[p + 1], image.pixels[p]
                )
            }
            out += row
        }
        return out + profile
    }

    private static func save(_ profile: cmsHPROFILE) -> [UInt8] {
        var size: cmsUInt32Number = 0
        cmsSaveProfileToMem(profile, nil, &size)
        var bytes = [UInt8](repeating: 0, count: Int(size))
        cmsSaveProfileToMem(profile, &bytes, &size)
        return bytes
    }
}
