import Foundation
import KindredImaging

/// Camera RAW fixtures: DNG files (Adobe's open RAW format, the one a test can write), with a
/// 16-bit RGGB colour filter array mosaic of a picture and, optionally, an embedded preview JPEG.
/// No Debian tool writes RAW files, so the DNG is laid out here, tag by tag, as DNG 1.4 specifies.
extension Fixtures {
    /// `sensor` sampled through an RGGB Bayer filter (linear light, 16 bits, white at 65535), as
    /// a DNG whose camera space is linear sRGB (ColorMatrix1 is XYZ → linear sRGB under D65, the
    /// as-shot neutral is grey); with `preview`, that picture as a JPEG preview in a second IFD;
    /// `orientation` is the TIFF Orientation tag.
    public static func dng(_ sensor: RGBImage, preview: RGBImage? = nil, orientation: Int = 1) -> [UInt8] {
        let (w, h) = (sensor.width, sensor.height)
        func linear(_ v: UInt8) -> Double {
            let c = Double(v) / 255
            return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        var mosaic = [UInt8](repeating: 0, count: w * h * 2)
        for y in 0..<h {
            for x in 0..<w {
                let channel = y % 2 == 0 ? (x % 2 == 0 ? 0 : 1) : (x % 2 == 0 ? 1 : 2)
                let value = Int((linear(sensor.pixels[(y * w + x) * 3 + channel]) * 65535).rounded())
                (mosaic[(y * w + x) * 2], mosaic[(y * w + x) * 2 + 1]) = (UInt8(value & 0xFF), UInt8(value >> 8))
            }
        }
        // XYZ (D65) → linear sRGB, as signed rationals over 10,000.
        let matrix = [
            32405, -15371, -4985, -9693, 18760, 416, 557, -2040, 10572,
        ]
        var writer = TIFFWriter()
        let rawIFD: [TIFFWriter.Entry] = [
            .long(254, [0]),  // NewSubfileType: the main image
            .long(256, [w]), .long(257, [h]), .short(258, [16]), .short(259, [1]),
            .short(262, [32803]),  // PhotometricInterpretation: colour filter array
            .ascii(271, "Acme"), .ascii(272, "Test Camera"), .short(274, [orientation]),
            .data(273, mosaic),  // StripOffsets, with StripByteCounts
            .short(277, [1]), .long(278, [h]), .short(284, [1]),
            .short(33421, [2, 2]), .byte(33422, [0, 1, 1, 2]),  // CFARepeatPatternDim, CFAPattern (RGGB)
            .byte(50706, [1, 4, 0, 0]), .ascii(50708, "Acme Test Camera"),  // DNGVersion, UniqueCameraModel
            .long(50714, [0]), .long(50717, [65535]),  // BlackLevel, WhiteLevel
            .srational(50721, matrix.map { ($0, 10_000) }),  // ColorMatrix1
            .rational(50728, [(1, 1), (1, 1), (1, 1)]),  // AsShotNeutral
            .short(50778, [21]),  // CalibrationIlluminant1: D65
        ]
        var directories = [rawIFD]
        if let preview {
            directories.append([
                .long(254, [1]),  // NewSubfileType: a reduced-resolution preview
                .long(256, [preview.width]), .long(257, [preview.height]), .short(258, [8, 8, 8]),
                .short(259, [7]), .short(262, [6]),  // JPEG, YCbCr
                .data(273, jpeg(preview, quality: 90)), .short(277, [3]), .long(278, [preview.height]),
            ])
        }
        return writer.write(directories)
    }
}

/// A little-endian TIFF written from a list of directories, each a list of tags: enough for the
/// DNG fixtures, whose tags libtiff's writer does not all know. Directories come first, as
/// cameras write them, then the strip data.
struct TIFFWriter {
    enum Entry {
        case byte(Int, [Int]), short(Int, [Int]), long(Int, [Int]), ascii(Int, String)
        case rational(Int, [(Int, Int)]), srational(Int, [(Int, Int)])
        /// One strip of data: its offset under `tag`, its length as StripByteCounts (279).
        case data(Int, [UInt8])
    }

    private struct Field {
        let tag: Int, type: Int, count: Int
        var value: [UInt8]
        /// The strip this field points at, whose offset is filled in once the layout is known.
        var strip: [UInt8]?
    }

    mutating func write(_ directories: [[Entry]]) -> [UInt8] {
        let laidOut = directories.map { entries in
            entries.flatMap { entry -> [Field] in
                switch entry {
                case .byte(let t, let v): [Field(tag: t, type: 1, count: v.count, value: v.map { UInt8($0) })]
                case .short(let t, let v): [Field(tag: t, type: 3, count: v.count, value: v.flatMap { le($0, 2) })]
                case .long(let t, let v): [Field(tag: t, type: 4, count: v.count, value: v.flatMap { le($0, 4) })]
                case .ascii(let t, let s): [Field(tag: t, type: 2, count: s.utf8.count + 1, value: Array(s.utf8) + [0])]
                case .rational(let t, let v):
                    [Field(tag: t, type: 5, count: v.count, value: v.flatMap { le($0.0, 4) + le($0.1, 4) })]
                case .srational(let t, let v):
                    [Field(tag: t, type: 10, count: v.count, value: v.flatMap { le($0.0, 4) + le($0.1, 4) })]
                case .data(let t, let bytes):
                    [
                        Field(tag: t, type: 4, count: 1, value: le(0, 4), strip: bytes),
                        Field(tag: 279, type: 4, count: 1, value: le(bytes.count, 4)),
                    ]
                }
            }.sorted { $0.tag < $1.tag }
        }
        // Each directory: 2 + 12 a field + 4, then its values over four bytes (kept even).
        func size(_ fields: [Field]) -> Int {
            6 + fields.count * 12 + fields.reduce(0) { $0 + ($1.value.count > 4 ? ($1.value.count + 1) & ~1 : 0) }
        }
        var stripAt = 8 + laidOut.reduce(0) { $0 + size($1) }
        var out: [UInt8] = Array("II".utf8) + [42, 0] + le(8, 4)
        for (number, var fields) in laidOut.enumerated() {
            for i in fields.indices where fields[i].strip != nil {
                fields[i].value = le(stripAt, 4)
                stripAt += (fields[i].strip!.count + 1) & ~1
            }
            let start = out.count
            var valuesAt = start + 6 + fields.count * 12
            var values: [UInt8] = []
            out += le(fields.count, 2)
            for field in fields {
                out += le(field.tag, 2) + le(field.type, 2) + le(field.count, 4)
                if field.value.count <= 4 {
                    out += field.value + [UInt8](repeating: 0, count: 4 - field.value.count)
                } else {
                    out += le(valuesAt, 4)
                    let padded = field.value + (field.value.count % 2 == 1 ? [0] : [])
                    values += padded
                    valuesAt += padded.count
                }
            }
            out += le(number + 1 < laidOut.count ? start + size(fields) : 0, 4) + values
        }
        for field in laidOut.joined() {
            if let strip = field.strip { out += strip + (strip.count % 2 == 1 ? [0] : []) }
        }
        return out
    }

    private func le(_ value: Int, _ bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
