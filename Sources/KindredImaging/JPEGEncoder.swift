import CTurboJPEG

/// RGB → JPEG through libjpeg-turbo's TurboJPEG API: contact sheets and the map's thumbnail
/// atlases.
public enum JPEGEncoder {
    /// The JPEG bytes of `image` at `quality` (1–100), 4:2:0 chroma.
    public static func encode(_ image: RGBImage, quality: Int = 85) throws(ImageError) -> [UInt8] {
        guard let handle = tjInitCompress() else {
            throw ImageError(path: "(encoder)", kind: .unreadable, reason: "TurboJPEG could not start a compressor")
        }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(image.width), 0, Int32(image.height), TJPF_RGB.rawValue, &buffer, &size,
                Int32(TJSAMP_420.rawValue), Int32(max(1, min(100, quality))), 0)
        }
        defer { tjFree(buffer) }
        guard status == 0, let buffer else {
            throw ImageError(
                path: "(encoder)", kind: .corrupt,
                reason:
                    "JPEG encoding of \(image.width)×\(image.height) failed: \(String(cString: tjGetErrorStr2(handle)))"
            )
        }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}

extension RGBImage {
    /// This image shrunk (never enlarged) to fit a `side` × `side` box, aspect kept.
    public func fitted(within side: Int) -> RGBImage {
        let scale = min(1, Double(side) / Double(max(width, height)))
        return resized(
            width: max(1, Int((Double(width) * scale).rounded())),
            height: max(1, Int((Double(height) * scale).rounded())))
    }

    /// What a square thumbnail's picture is centred on: the map page's dark background, and how
    /// `RegionMatch` tells the picture from its padding.
    public static let thumbnailBackground: (UInt8, UInt8, UInt8) = (14, 15, 18)

    /// A `side` × `side` thumbnail: this image fitted and centred on `background`. The daemon
    /// stores one per item (the `thumb` space) so maps of large collections need no decoding.
    public func squareThumbnail(side: Int, background: (UInt8, UInt8, UInt8) = RGBImage.thumbnailBackground) -> RGBImage
    {
        let fitted = fitted(within: side)
        var square = RGBImage(width: side, height: side)
        square.fill(x: 0, y: 0, width: side, height: side, rgb: background)
        square.paste(fitted, x: (side - fitted.width) / 2, y: (side - fitted.height) / 2)
        return square
    }

    /// Copies `other` into this image with its top-left corner at (`x`, `y`), clipped to the edges.
    public mutating func paste(_ other: RGBImage, x: Int, y: Int) {
        let x0 = max(0, x), x1 = min(width, x + other.width)
        guard x0 < x1 else { return }
        for row in max(0, y)..<min(height, y + other.height) {
            let source = ((row - y) * other.width + (x0 - x)) * 3
            pixels.replaceSubrange(
                (row * width + x0) * 3..<(row * width + x1) * 3, with: other.pixels[source..<source + (x1 - x0) * 3])
        }
    }

    /// Fills a rectangle (clipped) with one colour.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, rgb: (UInt8, UInt8, UInt8)) {
        for row in max(0, y)..<min(height, y + h) {
            for column in max(0, x)..<min(width, x + w) {
                let p = (row * width + column) * 3
                pixels[p] = rgb.0
                pixels[p + 1] = rgb.1
                pixels[p + 2] = rgb.2
            }
        }
    }
}
