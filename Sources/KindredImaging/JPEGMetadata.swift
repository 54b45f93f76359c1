/// What a JPEG's marker segments say about its pixels, read in one walk up to the first scan:
/// the EXIF orientation (TIFF tag 0x0112 in APP1; 1 is upright, 2–8 the mirrorings and rotations
/// of the TIFF specification), the ICC profile (APP2 `ICC_PROFILE` chunks, joined in their
/// order), and whether an Adobe APP14 segment is present (Adobe stores CMYK inverted). Anything
/// malformed reads as absent, because a camera's broken metadata should not make a good image
/// unreadable.
struct JPEGMetadata {
    var orientation = 1
    var iccProfile: [UInt8]?
    var adobe = false

    init(_ jpeg: UnsafeRawBufferPointer) {
        var chunks: [Int: UnsafeRawBufferPointer] = [:]
        var chunkCount = 0
        var at = 2
        while at + 4 <= jpeg.count, jpeg[at] == 0xFF {
            let marker = jpeg[at + 1]
            if marker == 0xDA || marker == 0xD9 { break }  // start of scan, end of image
            let length = Int(jpeg[at + 2]) << 8 | Int(jpeg[at + 3])
            guard length >= 2, at + 2 + length <= jpeg.count else { break }
            let start = at + 4, end = at + 2 + length
            let body = UnsafeRawBufferPointer(rebasing: jpeg[start..<end])
            if marker == 0xE1, orientation == 1, body.count >= 14, body.starts(with: [0x45, 0x78, 0x69, 0x66, 0, 0]) {
                let exif = TIFFHeader(UnsafeRawBufferPointer(rebasing: body[6...]))
                orientation = exif?.short(0x0112).flatMap { (1...8).contains($0) ? $0 : nil } ?? 1
            } else if marker == 0xE2, body.count > 14, body.starts(with: Array("ICC_PROFILE\0".utf8)) {
                // Chunk numbers count from 1 to the total every chunk repeats.
                let number = Int(body[12]), total = Int(body[13])
                if number >= 1, number <= total, chunkCount == 0 || chunkCount == total {
                    chunkCount = total
                    chunks[number] = UnsafeRawBufferPointer(rebasing: body[14...])
                }
            } else if marker == 0xEE, body.starts(with: Array("Adobe".utf8)) {
                adobe = true
            }
            at = end
        }
        if chunkCount > 0, chunks.count == chunkCount {
            iccProfile = (1...chunkCount).flatMap { Array(chunks[$0]!) }
        }
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
