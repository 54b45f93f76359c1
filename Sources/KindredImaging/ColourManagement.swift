import CLCMS2
import Foundation
import KindredCore
import Synchronization

/// The one owner of colour: pixels the CNN and the descriptors see are sRGB. A decoder hands over
/// the ICC profile its file embeds; LittleCMS converts from it (relative colorimetric with black
/// point compensation, what Photoshop does by default). CMYK without a profile is read as
/// Ghostscript's default CMYK profile (SWOP-like; Debian: libgs-common), the usual assumption for
/// untagged press files.
///
/// Profiles come from files, so they are untrusted: larger than `maxProfileBytes`, unreadable by
/// LittleCMS, or of a colour space the pixels are not (a grey profile on RGB pixels) and they are
/// ignored, the pixels taken as sRGB, which is what browsers do with a broken profile. A grey
/// profile on grey pixels is ignored too: the tone curve moves grey levels, not hues.
///
/// Transforms are built once per distinct profile and kept (up to `cacheBytes` of profiles): a
/// collection usually holds a handful of profiles, and building one costs about a millisecond.
enum ColourManagement {
    static let maxProfileBytes = 4 << 20
    /// The most profile bytes the cache keeps (profiles are its keys).
    static let cacheBytes = 16 << 20
    static let defaultCMYKProfilePath = "/usr/share/color/icc/ghostscript/default_cmyk.icc"

    /// The pixel layouts a transform reads.
    enum Source: Hashable, Sendable {
        case rgb
        /// Four inks, 0 = none.
        case cmyk
        /// Four inks stored inverted, as Adobe writes CMYK JPEGs.
        case cmykInverted

        fileprivate var lcmsType: cmsUInt32Number {
            switch self {
            case .rgb: kk_lcms_rgb8
            case .cmyk: kk_lcms_cmyk8
            case .cmykInverted: kk_lcms_cmyk8_inverted
            }
        }

        fileprivate var colourSpace: cmsColorSpaceSignature { self == .rgb ? cmsSigRgbData : cmsSigCmykData }
    }

    /// A transform to 8-bit sRGB, and the name of the profile it converts from.
    final class Transform: Sendable {
        let profileName: String
        let source: Source
        // A transform made with cmsFLAGS_NOCACHE holds no per-call state, so LittleCMS allows
        // cmsDoTransform on it from any thread at once; it is never changed after creation.
        nonisolated(unsafe) private let handle: cmsHTRANSFORM

        fileprivate init(handle: cmsHTRANSFORM, profileName: String, source: Source) {
            self.handle = handle
            self.profileName = profileName
            self.source = source
        }

        deinit { cmsDeleteTransform(handle) }

        /// Converts `pixels` pixels from `input` (the source layout) to RGB at `output`. For RGB
        /// sources the two may be the same buffer.
        func apply(_ input: UnsafeRawPointer, to output: UnsafeMutableRawPointer, pixels: Int) {
            cmsDoTransform(handle, input, output, cmsUInt32Number(pixels))
        }
    }

    /// The transform from an embedded profile (or, for CMYK without a usable one, the default
    /// CMYK profile) to sRGB; nil means the pixels are taken as they are.
    static func transform(profile: [UInt8]?, source: Source) -> Transform? {
        if let profile, !profile.isEmpty, profile.count <= maxProfileBytes,
            let made = cached(profile, source: source)
        {
            return made
        }
        guard source != .rgb, let fallback = defaultCMYK else { return nil }
        return cached(fallback, source: source)
    }

    /// `image`'s pixels, taken to be in `profile`'s RGB space, converted to sRGB; nil when the
    /// profile is unusable (the image then stays as it is).
    static func convertToSRGB(_ image: inout RGBImage, profile: [UInt8]) -> String? {
        guard let transform = transform(profile: profile, source: .rgb) else { return nil }
        let count = image.width * image.height
        image.pixels.withUnsafeMutableBytes { transform.apply($0.baseAddress!, to: $0.baseAddress!, pixels: count) }
        return transform.profileName
    }

    /// An RGB profile from chromaticities (CIE xy of the red, green and blue primaries and the
    /// white point) and the sRGB tone curve, named `name`: what a HEIF `nclx` description of a
    /// picture's primaries amounts to, as profile bytes for `convertToSRGB`. nil if LittleCMS
    /// refuses the chromaticities.
    static func profile(
        red: (x: Double, y: Double), green: (x: Double, y: Double), blue: (x: Double, y: Double),
        white: (x: Double, y: Double), name: String
    ) -> [UInt8]? {
        let values = [red.x, red.y, green.x, green.y, blue.x, blue.y, white.x, white.y]
        guard values.allSatisfy({ $0.isFinite && $0 > 0 && $0 < 1 }) else { return nil }
        var whitePoint = cmsCIExyY(x: white.x, y: white.y, Y: 1)
        var primaries = cmsCIExyYTRIPLE(
            Red: cmsCIExyY(x: red.x, y: red.y, Y: 1), Green: cmsCIExyY(x: green.x, y: green.y, Y: 1),
            Blue: cmsCIExyY(x: blue.x, y: blue.y, Y: 1))
        // IEC 61966-2-1: Y = ((X + 0.055) / 1.055)^2.4 above 0.04045, X / 12.92 below.
        let parameters: [Double] = [2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045]
        guard let curve = cmsBuildParametricToneCurve(nil, 4, parameters) else { return nil }
        defer { cmsFreeToneCurve(curve) }
        var curves: [OpaquePointer?] = [curve, curve, curve]
        guard let built = cmsCreateRGBProfile(&whitePoint, &primaries, &curves) else { return nil }
        defer { cmsCloseProfile(built) }
        if let text = cmsMLUalloc(nil, 1) {
            defer { cmsMLUfree(text) }
            cmsMLUsetASCII(text, "en", "US", name)
            cmsWriteTag(built, cmsSigProfileDescriptionTag, UnsafeRawPointer(text))
        }
        var size: cmsUInt32Number = 0
        guard cmsSaveProfileToMem(built, nil, &size) != 0, size > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        guard cmsSaveProfileToMem(built, &bytes, &size) != 0 else { return nil }
        return bytes
    }

    private static let defaultCMYK: [UInt8]? = {
        try? FileIO.readWhole(defaultCMYKProfilePath, limit: maxProfileBytes)
    }()

    private struct Key: Hashable {
        let profile: [UInt8]
        let source: Source
    }

    /// Built transforms by profile; a profile LittleCMS refuses is remembered as nil.
    private static let cache = Mutex<(transforms: [Key: Transform?], bytes: Int)>(([:], 0))

    private static func cached(_ profile: [UInt8], source: Source) -> Transform? {
        let key = Key(profile: profile, source: source)
        return cache.withLock { cache in
            if let known = cache.transforms[key] { return known }
            let made = make(key.profile, source: source)
            if cache.bytes + profile.count > cacheBytes { cache = ([:], 0) }
            cache.transforms[key] = made
            cache.bytes += profile.count
            return made
        }
    }

    private static func make(_ bytes: [UInt8], source: Source) -> Transform? {
        guard let input = bytes.withUnsafeBytes({ cmsOpenProfileFromMem($0.baseAddress, cmsUInt32Number($0.count)) })
        else { return nil }
        defer { cmsCloseProfile(input) }
        guard cmsGetColorSpace(input) == source.colourSpace, let sRGB = cmsCreate_sRGBProfile() else { return nil }
        defer { cmsCloseProfile(sRGB) }
        guard
            let handle = cmsCreateTransform(
                input, source.lcmsType, sRGB, kk_lcms_rgb8, cmsUInt32Number(INTENT_RELATIVE_COLORIMETRIC),
                cmsUInt32Number(cmsFLAGS_NOCACHE | cmsFLAGS_BLACKPOINTCOMPENSATION))
        else { return nil }
        return Transform(handle: handle, profileName: name(of: input), source: source)
    }

    /// The profile's description (its `desc` tag), for reports; "unnamed" without one.
    private static func name(of profile: cmsHPROFILE) -> String {
        var text = [CChar](repeating: 0, count: 128)
        let length = cmsGetProfileInfoASCII(profile, cmsInfoDescription, "en", "US", &text, cmsUInt32Number(text.count))
        let name =
            length > 1 ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return name.isEmpty ? "unnamed" : name
    }
}
