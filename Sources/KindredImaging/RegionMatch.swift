import CKindredKernels

/// How well one picture lies inside another, judged on their square thumbnails
/// (`RGBImage.squareThumbnail`, the `thumb` space every item keeps): the query's picture, shrunk
/// to a few sizes up to the largest that fits in the candidate's picture, is slid over it, and the
/// best normalised cross-correlation of their luma wins (luma, so a greyscale copy matches its
/// coloured original; on the copy dev set it also found more crops than the three channels did).
/// A crop of a picture scores near 1 against its original, wherever it was cut from; a global
/// descriptor such as the CNN's pooled features sees half a picture as another picture
/// (Benchmarks/RESULTS.md, "Crops found by their thumbnails").
///
/// Thumbnails are what makes it cheap enough for every query's candidates: 32 px a side, read
/// from the store beside the vectors, with no file decoded. A match made once per query
/// (`RegionMatch(thumbnail:)`) keeps the query's picture and each size made of it, so the
/// candidates of one query share them; so it is a class, used by the one thread answering.
public final class RegionMatch {
    /// The query's picture's sizes tried, as fractions of the largest that fits the candidate's:
    /// a crop keeping half of each side of the original, or more.
    public static let scales: [Double] = [1, 0.9, 0.8, 0.7, 0.6, 0.5]
    /// Smaller templates match too much by chance.
    static let minimumSide = 6
    /// A window (or a query's picture) whose values vary less than this (a standard deviation,
    /// in 8-bit levels) is flat: it matches every other flat window equally, so it scores nothing.
    static let minimumDeviation: Float = 2

    private let picture: RGBImage
    /// What the templates are made from: the query's own picture at up to `detailSide` a side
    /// when it was given (a query by image), else the thumbnail's picture.
    private let detail: RGBImage
    private var templates: [Size: [Float]?] = [:]

    /// The longest side `detail` keeps of a query's own picture: enough that a template shrunk
    /// from it is resampled once, as the candidate's thumbnail was from its file.
    static let detailSide = 128

    private struct Size: Hashable {
        var width: Int
        var height: Int
    }

    /// A match for the query whose square thumbnail is `thumbnail` (side × side RGB bytes); nil
    /// when it is not one, or shows no picture. `source`: the picture the thumbnail was made of,
    /// when the query has it (a query by image), so templates are made from its pixels rather
    /// than from the thumbnail's: a template shrunk from a 32-pixel thumbnail is resampled twice
    /// where the candidate's region was resampled once, and blurs thin lines a crop still
    /// holds (RESULTS.md, "Crops matched from the query's own pixels").
    public init?(thumbnail: [UInt8], side: Int, source: RGBImage? = nil) {
        guard let picture = Self.picture(in: thumbnail, side: side) else { return nil }
        self.picture = picture
        detail = source.map { $0.fitted(within: Self.detailSide) } ?? picture
    }

    /// The best correlation (−1…1) of the query's picture with a region of the picture in the
    /// candidate's square thumbnail; nil when the bytes are no thumbnail, or nothing could be
    /// compared (a flat picture, or one too small).
    public func correlation(with thumbnail: [UInt8], side: Int) -> Float? {
        guard let bounds = Self.pictureBounds(in: thumbnail, side: side) else { return nil }
        // The candidate's picture with a pixel more on each side where there is one: a resampled
        // edge may blend into the background.
        let x0 = max(0, bounds.x - 1), y0 = max(0, bounds.y - 1)
        let x1 = min(side, bounds.x + bounds.width + 1), y1 = min(side, bounds.y + bounds.height + 1)
        let cols = x1 - x0, rows = y1 - y0
        var region = [Float](repeating: 0, count: rows * cols + Int(KK_CORRELATION_PADDING))
        thumbnail.withUnsafeBufferPointer { rgb in
            region.withUnsafeMutableBufferPointer { out in
                for y in 0..<rows {
                    for x in 0..<cols { out[y * cols + x] = Self.luma(rgb, at: (y0 + y) * side + x0 + x) }
                }
            }
        }
        let fit = min(Double(bounds.width) / Double(picture.width), Double(bounds.height) / Double(picture.height))
        var sizes: [Size] = []
        var made: [[Float]] = []
        for scale in Self.scales {
            let size = Size(
                width: Int((Double(picture.width) * fit * scale).rounded()),
                height: Int((Double(picture.height) * fit * scale).rounded()))
            guard min(size.width, size.height) >= Self.minimumSide, size.width <= cols, size.height <= rows,
                let template = template(size)
            else { continue }
            sizes.append(size)
            made.append(template)
        }
        guard !sizes.isEmpty else { return nil }
        let best = withPointers(to: made) { templates in
            kk_best_correlation(
                PixelKernels.level, region, Int32(rows), Int32(cols), templates, sizes.map { Int32($0.height) },
                sizes.map { Int32($0.width) }, Int32(sizes.count), Self.minimumDeviation)
        }
        return best > -1 ? best : nil
    }

    /// The query's picture at `size`, less its mean, at unit norm; nil when it is flat.
    private func template(_ size: Size) -> [Float]? {
        if let made = templates[size] { return made }
        let resized = detail.resized(width: size.width, height: size.height).pixels
        var values = resized.withUnsafeBufferPointer { rgb in
            (0..<size.width * size.height).map { Self.luma(rgb, at: $0) }
        }
        let mean = values.reduce(0, +) / Float(values.count)
        for i in values.indices { values[i] -= mean }
        let norm = values.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        var made: [Float]? = nil
        if norm >= Self.minimumDeviation * Float(values.count).squareRoot() {
            for i in values.indices { values[i] /= norm }
            made = values
        }
        templates[size] = made
        return made
    }

    /// Pixel `index`'s luma (Rec. 601 weights), less 128 so the sums stay small.
    @inline(__always) static func luma(_ rgb: UnsafeBufferPointer<UInt8>, at index: Int) -> Float {
        0.299 * Float(rgb[index * 3]) + 0.587 * Float(rgb[index * 3 + 1]) + 0.114 * Float(rgb[index * 3 + 2]) - 128
    }

    /// Where the picture is in a square thumbnail: the rows and columns that are not all
    /// `RGBImage.thumbnailBackground`. A picture whose own edge is exactly that colour loses
    /// that edge, which costs the match nothing.
    static func pictureBounds(in thumbnail: [UInt8], side: Int) -> (x: Int, y: Int, width: Int, height: Int)? {
        guard side > 0, side <= Int(KK_CORRELATION_MAX_SIDE), thumbnail.count == side * side * 3 else { return nil }
        let (r, g, b) = RGBImage.thumbnailBackground
        var minX = side, minY = side, maxX = -1, maxY = -1
        thumbnail.withUnsafeBufferPointer { pixels in
            for y in 0..<side {
                for x in 0..<side {
                    let p = (y * side + x) * 3
                    if pixels[p] != r || pixels[p + 1] != g || pixels[p + 2] != b {
                        minX = min(minX, x)
                        maxX = max(maxX, x)
                        minY = min(minY, y)
                        maxY = max(maxY, y)
                    }
                }
            }
        }
        guard maxX >= minX else { return nil }
        return (minX, minY, maxX - minX + 1, maxY - minY + 1)
    }

    static func picture(in thumbnail: [UInt8], side: Int) -> RGBImage? {
        guard let bounds = pictureBounds(in: thumbnail, side: side) else { return nil }
        var pixels: [UInt8] = []
        pixels.reserveCapacity(bounds.width * bounds.height * 3)
        for y in bounds.y..<bounds.y + bounds.height {
            let start = ((y * side) + bounds.x) * 3
            pixels += thumbnail[start..<start + bounds.width * 3]
        }
        return RGBImage(width: bounds.width, height: bounds.height, pixels: pixels)
    }
}

/// Calls `body` with a pointer to each array's first element (each valid for the call).
private func withPointers<R>(to arrays: [[Float]], _ body: ([UnsafePointer<Float>?]) -> R) -> R {
    func next(_ i: Int, _ pointers: [UnsafePointer<Float>?]) -> R {
        guard i < arrays.count else { return body(pointers) }
        return arrays[i].withUnsafeBufferPointer { next(i + 1, pointers + [$0.baseAddress]) }
    }
    return next(0, [])
}
