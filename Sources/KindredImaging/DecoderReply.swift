/// What a `DecoderProcess` child writes back: a magic number, then an image or an error, as
/// little-endian 64-bit integers and length-prefixed bytes. The parent reads it as untrusted:
/// every size is range-checked against the parent's own `DecodeOptions` before anything is
/// allocated, and the reply must end exactly where its fields say.
///
///     "KINDDEC1"  0  width height originalWidth originalHeight  pixels(width×height×3)
///                    [colour profile name] [embedded ICC profile]          (image)
///     "KINDDEC1"  1  [kind] [reason]                                       (error)
///
/// where [x] is a length (−1 for none) and that many bytes.
enum Reply {
    static let magic = Array("KINDDEC1".utf8)
    /// Longest text field (an error's reason, a profile's name); the child truncates to it.
    static let textLimit = 4096

    /// The most bytes a reply to an input of `input` bytes can take under `options`: the largest
    /// image a decoder may hold, an embedded profile no larger than the file it came from, text.
    static func limit(_ options: DecodeOptions, input: Int) -> Int {
        magic.count + 8 * 10 + options.pixelLimit * 3 + input + 2 * textLimit
    }

    // MARK: Writing (the child)

    static func encode(_ decoded: DecodedImage) -> [UInt8] {
        var out = magic
        for value in [0, decoded.image.width, decoded.image.height, decoded.originalWidth, decoded.originalHeight] {
            append(value, to: &out)
        }
        out += decoded.image.pixels
        append(decoded.colourProfile.map { Array($0.utf8.prefix(textLimit)) }, to: &out)
        append(decoded.embeddedProfile, to: &out)
        return out
    }

    static func encode(_ error: ImageError) -> [UInt8] {
        var out = magic
        append(1, to: &out)
        append(Array(error.kind.rawValue.utf8), to: &out)
        append(Array(error.reason.utf8.prefix(textLimit)), to: &out)
        return out
    }

    private static func append(_ value: Int, to out: inout [UInt8]) {
        withUnsafeBytes(of: Int64(value).littleEndian) { out += $0 }
    }

    private static func append(_ bytes: [UInt8]?, to out: inout [UInt8]) {
        append(bytes?.count ?? -1, to: &out)
        if let bytes { out += bytes }
    }

    // MARK: Reading (the parent)

    /// The child's image, or its decoder's error (rethrown with `path`); `.corrupt` naming the
    /// field when the reply breaks a rule.
    static func decode(
        _ reply: [UInt8], format: ImageFormat, options: DecodeOptions, input: Int, path: String
    ) throws(ImageError) -> DecodedImage {
        var reader = Reader(bytes: reply)
        func malformed(_ what: String) -> ImageError {
            ImageError(
                path: path, kind: .corrupt, reason: "\(format.rawValue) decoder process: malformed reply (\(what))")
        }
        guard reader.take(magic.count) == magic[...] else { throw malformed("magic") }
        switch reader.int() {
        case 0:
            guard let width = reader.int(), let height = reader.int(), let originalWidth = reader.int(),
                let originalHeight = reader.int()
            else { throw malformed("sizes") }
            for (side, name) in [(width, "width"), (height, "height"), (originalWidth, "original width")]
                + [(originalHeight, "original height")]
            where !(1...options.maxSide).contains(side) {
                throw malformed("\(name) \(side)")
            }
            guard width * height <= options.pixelLimit else {
                throw malformed("\(width)×\(height) over the pixel limit")
            }
            guard let pixels = reader.take(width * height * 3) else { throw malformed("pixels") }
            guard case .some(let name) = reader.text(limit: textLimit) else { throw malformed("profile name") }
            guard case .some(let profile) = reader.field(limit: input) else { throw malformed("embedded profile") }
            guard reader.atEnd else { throw malformed("bytes after the end") }
            return DecodedImage(
                image: RGBImage(width: width, height: height, pixels: Array(pixels)), format: format,
                originalWidth: originalWidth, originalHeight: originalHeight,
                colourProfile: name, embeddedProfile: profile.map(Array.init))
        case 1:
            guard case .some(.some(let kindName)) = reader.text(limit: 64),
                let kind = ImageError.Kind(rawValue: kindName)
            else { throw malformed("error kind") }
            guard case .some(.some(let reason)) = reader.text(limit: textLimit), reader.atEnd else {
                throw malformed("error reason")
            }
            throw ImageError(path: path, kind: kind, reason: reason)
        default: throw malformed("outcome")
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, count <= bytes.count - offset else { return nil }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func int() -> Int? {
            guard let field = take(8) else { return nil }
            return Int(Int64(littleEndian: field.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }))
        }

        /// A length-prefixed field: nil when malformed, .some(nil) when absent (length −1).
        mutating func field(limit: Int) -> ArraySlice<UInt8>?? {
            guard let count = int(), count >= -1, count <= limit else { return nil }
            if count == -1 { return .some(nil) }
            return take(count).map { .some($0) }
        }

        mutating func text(limit: Int) -> String?? {
            field(limit: limit).map { $0.map { String(decoding: $0, as: UTF8.self) } }
        }
    }
}
