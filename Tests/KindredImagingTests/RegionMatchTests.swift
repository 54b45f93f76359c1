import KindredImaging
import Testing

/// `RegionMatch` on real thumbnails (`RGBImage.squareThumbnail`, as the daemon keeps them).
@Suite struct RegionMatchTests {
    /// A picture with structure at several scales: soft gradients, stripes and discs that differ
    /// with `seed`.
    func picture(width: Int, height: Int, seed: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let p = (y * width + x) * 3
                let stripe = ((x + 2 * y + seed * 13) / (9 + seed % 5)) % 2 == 0
                image.pixels[p] = UInt8((x * 255 / width + seed * 40) % 256)
                image.pixels[p + 1] = stripe ? 220 : 30
                image.pixels[p + 2] = UInt8((y * 255 / height + seed * 90) % 256)
                for disc in 0..<3 {
                    let cx = (seed * 37 + disc * 61) % width, cy = (seed * 53 + disc * 29) % height
                    if (x - cx) * (x - cx) + (y - cy) * (y - cy) < (height / 6) * (height / 6) {
                        image.pixels[p] = 250
                        image.pixels[p + 1] = UInt8(40 * disc)
                        image.pixels[p + 2] = 10
                    }
                }
            }
        }
        return image
    }

    func crop(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int) -> RGBImage {
        var out = RGBImage(width: width, height: height)
        for row in 0..<height {
            let start = ((y + row) * image.width + x) * 3
            out.pixels.replaceSubrange(
                row * width * 3..<(row + 1) * width * 3, with: image.pixels[start..<start + width * 3])
        }
        return out
    }

    func thumbnail(_ image: RGBImage) -> [UInt8] { image.squareThumbnail(side: 32).pixels }

    @Test func anOffCentreCropLiesInsideItsOriginalAndNotInAnotherPicture() throws {
        let original = picture(width: 300, height: 200, seed: 3)
        // 70 % of each side, from the bottom right: half the picture.
        let cropped = crop(original, x: 80, y: 55, width: 210, height: 140)
        let match = try #require(RegionMatch(thumbnail: thumbnail(cropped), side: 32))
        let itself = try #require(match.correlation(with: thumbnail(original), side: 32))
        #expect(itself > 0.8, "\(itself)")
        for seed in [4, 7, 11] {
            let other = try #require(
                match.correlation(with: thumbnail(picture(width: 300, height: 200, seed: seed)), side: 32))
            #expect(other < itself - 0.2, "seed \(seed): \(other) against \(itself)")
        }
        // The whole picture against itself, portrait and landscape alike.
        let tall = picture(width: 120, height: 260, seed: 5)
        let whole = try #require(RegionMatch(thumbnail: thumbnail(tall), side: 32))
        #expect(try #require(whole.correlation(with: thumbnail(tall), side: 32)) > 0.99)
    }

    /// A line drawing: dark strokes a few pixels wide on white, a grid slanted by `seed`, the
    /// kind of detail a 32-pixel thumbnail holds at about one pixel a stroke.
    func drawing(width: Int, height: Int, seed: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for i in image.pixels.indices { image.pixels[i] = 255 }
        for y in 0..<height {
            for x in 0..<width where (x + y * seed / 4) % 47 < 4 || (y + x * seed / 7) % 61 < 3 {
                let p = (y * width + x) * 3
                image.pixels[p] = 20
                image.pixels[p + 1] = 20
                image.pixels[p + 2] = 40
            }
        }
        return image
    }

    @Test func aQuerysOwnPixelsMatchACropOfThinStrokesBetterThanItsThumbnail() throws {
        let original = drawing(width: 640, height: 480, seed: 3)
        // 70 % of each side, cut a fraction of a thumbnail pixel off the grid.
        let cropped = crop(original, x: 130, y: 50, width: 448, height: 336)
        let fromThumbnail = try #require(
            RegionMatch(thumbnail: thumbnail(cropped), side: 32)?.correlation(with: thumbnail(original), side: 32))
        let fromPixels = try #require(
            RegionMatch(thumbnail: thumbnail(cropped), side: 32, source: cropped)?
                .correlation(with: thumbnail(original), side: 32))
        #expect(fromPixels > fromThumbnail, "\(fromPixels) against \(fromThumbnail) from the thumbnail")
        for seed in [5, 9] {
            let other = try #require(
                RegionMatch(thumbnail: thumbnail(cropped), side: 32, source: cropped)?
                    .correlation(with: thumbnail(drawing(width: 640, height: 480, seed: seed)), side: 32))
            #expect(other < fromPixels - 0.1, "seed \(seed): \(other) against \(fromPixels)")
        }
    }

    @Test func flatPicturesAndBytesThatAreNoThumbnailCompareNothing() throws {
        var grey = RGBImage(width: 64, height: 64)
        for i in grey.pixels.indices { grey.pixels[i] = 128 }
        let original = thumbnail(picture(width: 300, height: 200, seed: 3))
        // A flat query matches everything flat equally: no template is made of it.
        let flat = try #require(RegionMatch(thumbnail: thumbnail(grey), side: 32))
        #expect(flat.correlation(with: original, side: 32) == nil)
        let match = try #require(RegionMatch(thumbnail: original, side: 32))
        #expect(match.correlation(with: thumbnail(grey), side: 32) == nil)
        // Wrong lengths, and a thumbnail that is all background, are refused, not read past.
        #expect(RegionMatch(thumbnail: Array(original.dropLast()), side: 32) == nil)
        #expect(RegionMatch(thumbnail: original, side: 0) == nil)
        #expect(match.correlation(with: [1, 2, 3], side: 32) == nil)
        let background = RGBImage.thumbnailBackground
        let empty = (0..<(32 * 32)).flatMap { _ in [background.0, background.1, background.2] }
        #expect(RegionMatch(thumbnail: empty, side: 32) == nil)
        #expect(match.correlation(with: empty, side: 32) == nil)
        // A candidate a few pixels across leaves no room for a template of the smallest size.
        var speck = RGBImage(width: 4, height: 4)
        for i in speck.pixels.indices { speck.pixels[i] = UInt8((i * 20) % 256) }
        #expect(match.correlation(with: speck.squareThumbnail(side: 32).pixels, side: 32) == nil)
    }
}
