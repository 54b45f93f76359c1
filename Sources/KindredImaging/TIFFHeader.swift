/// The first directory (IFD0) of a TIFF structure, read from bytes in memory without libtiff: for
/// the few tags read before choosing a decoder (a JPEG's EXIF orientation; whether a TIFF is a
/// camera's RAW file). Every offset is checked against the buffer; anything malformed is nil.
struct TIFFHeader {
    private let bytes: UnsafeRawBufferPointer
    private let little: Bool
    private let directory: Int
    private let entries: Int

    /// Tags read at most: a real IFD0 holds a few dozen.
    static let maxEntries = 512

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 8, bytes[0] == bytes[1], bytes[0] == 0x49 || bytes[0] == 0x4D else { return nil }
        self.bytes = bytes
        little = bytes[0] == 0x49
        guard let offset = Self.u32(bytes, 4, little), let count = Self.u16(bytes, offset, little) else { return nil }
        (directory, entries) = (offset, min(count, Self.maxEntries))
    }

    /// Whether IFD0 has `tag`.
    func has(_ tag: Int) -> Bool { entry(tag) != nil }

    /// A SHORT tag's first value.
    func short(_ tag: Int) -> Int? { entry(tag).flatMap { Self.u16(bytes, $0 + 8, little) } }

    /// An ASCII tag's text (up to its first NUL), at most 64 bytes of it.
    func ascii(_ tag: Int) -> String? {
        guard let entry = entry(tag), Self.u16(bytes, entry + 2, little) == 2,
            let count = Self.u32(bytes, entry + 4, little), count > 0
        else { return nil }
        let start = count <= 4 ? entry + 8 : (Self.u32(bytes, entry + 8, little) ?? -1)
        let length = min(count, 64)
        guard start >= 0, start + length <= bytes.count else { return nil }
        return String(decoding: bytes[start..<(start + length)].prefix { $0 != 0 }, as: UTF8.self)
    }

    private func entry(_ tag: Int) -> Int? {
        (0..<entries).lazy.map { directory + 2 + $0 * 12 }.first { Self.u16(bytes, $0, little) == tag }
    }

    private static func u16(_ b: UnsafeRawBufferPointer, _ o: Int, _ little: Bool) -> Int? {
        guard o >= 0, o + 2 <= b.count else { return nil }
        return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
    }

    private static func u32(_ b: UnsafeRawBufferPointer, _ o: Int, _ little: Bool) -> Int? {
        guard let x = u16(b, o, little), let y = u16(b, o + 2, little) else { return nil }
        return little ? x | y << 16 : x << 16 | y
    }
}
