/// Reads the EXIF orientation (TIFF tag 0x0112) from a JPEG's APP1 segment: 1 is upright, 2–8 the
/// mirrorings and rotations of the TIFF specification. Anything malformed reads as 1, because a
/// camera's broken metadata should not make a good image unreadable.
enum EXIFOrientation {
    static func read(_ jpeg: UnsafeRawBufferPointer) -> Int {
        var at = 2
        while at + 4 <= jpeg.count, jpeg[at] == 0xFF {
            let marker = jpeg[at + 1]
            if marker == 0xDA || marker == 0xD9 { break }  // start of scan, end of image
            let length = Int(jpeg[at + 2]) << 8 | Int(jpeg[at + 3])
            guard length >= 2, at + 2 + length <= jpeg.count else { break }
            let start = at + 4
            if marker == 0xE1, length >= 16, Array(jpeg[start..<(start + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return tiffOrientation(UnsafeRawBufferPointer(rebasing: jpeg[(start + 6)..<(at + 2 + length)])) ?? 1
            }
            at += 2 + length
        }
        return 1
    }

    private static func tiffOrientation(_ tiff: UnsafeRawBufferPointer) -> Int? {
        guard tiff.count >= 8 else { return nil }
        let little = tiff[0] == 0x49
        guard little || tiff[0] == 0x4D else { return nil }
        func u16(_ o: Int) -> Int? {
            guard o + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[o]) | Int(tiff[o + 1]) << 8 : Int(tiff[o]) << 8 | Int(tiff[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for i in 0..<min(entries, 512) {
            let entry = ifd + 2 + i * 12
            if u16(entry) == 0x0112, let value = u16(entry + 8), (1...8).contains(value) { return value }
        }
        return nil
    }
}

extension RGBImage {
    /// Applies an EXIF orientation so the image is upright.
    func oriented(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let transposed = orientation >= 5
        let w = transposed ? height : width, h = transposed ? width : height
        var out = RGBImage(width: w, height: h)
        for y in 0..<h {
            for x in 0..<w {
                // The source pixel for output (x, y), per the TIFF orientation table.
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (width - 1 - x, y)
                case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                case 4: (sx, sy) = (x, height - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, height - 1 - x)
                case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                default: (sx, sy) = (width - 1 - y, x)  // 8
                }
                let s = (sy * width + sx) * 3, d = (y * w + x) * 3
                out.pixels[d] = pixels[s]
                out.pixels[d + 1] = pixels[s + 1]
                out.pixels[d + 2] = pixels[s + 2]
            }
        }
        return out
    }
}
