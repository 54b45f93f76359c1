import Foundation
import KindredCore
import KindredImaging

/// A model-free description of an image by value, hue, texture and layout, the terms artwork
/// studies use. Computed on the image area-resampled to 128 × 128 (aspect ignored: layout cells
/// are relative), so it does not depend on resolution.
///
/// | block | dims | what |
/// |---|---|---|
/// | hue | 24 | hue histogram, each pixel weighted by saturation × value, so greys do not vote |
/// | saturation | 8 | saturation histogram |
/// | value | 16 | value (brightness) histogram |
/// | edges | 20 | Sobel orientation histogram (16 bins over 0–π, weighted by magnitude) and 4 edge-strength bins |
/// | texture | 10 | rotation-invariant uniform LBP (8 neighbours, radius 1), riu2 codes 0–9 |
/// | layout | 64 | 4 × 4 grid: mean R, G, B and the standard deviation of value in each cell |
///
/// Each block is scaled to unit length and multiplied by its weight, then the whole vector is
/// scaled to unit length, so cosine similarity compares images block by block. Weights: colour
/// (hue + saturation + value) 1.0 each, edges 0.8, texture 0.8, layout 1.2. Layout weighs most
/// because composition is what separates artworks that share a palette; edges and texture weigh
/// less because JPEG artefacts and scaling disturb them most.
public enum StyleDescriptor {
    public static let dimension = Space.style.dimension
    public static let producerVersion: UInt32 = 1
    static let side = 128

    /// Where each block lies in the vector (the table above).
    static let saturationBlock = 24..<32, edgeAndTextureBlocks = 48..<78, layoutBlock = 78..<142

    /// Whether the picture a vector describes has no colour to speak of: at least 99.5 % of its
    /// pixels in the lowest saturation bin (a greyscale copy, a black-and-white drawing). Read
    /// from the saturation block's proportions, which its scaling keeps.
    public static func isColourless(_ vector: [Float]) -> Bool {
        guard vector.count == dimension else { return false }
        let block = vector[saturationBlock]
        let total = block.reduce(0, +)
        return total > 0 && block[block.startIndex] / total >= 0.995
    }

    /// The parts of a vector that turning the picture grey leaves as they were, scaled to unit
    /// length: edges and texture (both computed on luma) and each layout cell's luma (from its
    /// mean R, G, B). Hue and saturation go, and so does value, which is HSV's (the largest
    /// channel) and falls when a saturated colour turns grey. Comparing these is how a colourless
    /// picture is compared with a coloured one.
    public static func colourFree(_ vector: [Float]) -> [Float] {
        guard vector.count == dimension else { return [] }
        var free = Array(vector[edgeAndTextureBlocks])
        free.reserveCapacity(edgeAndTextureBlocks.count + 16)
        for cell in 0..<16 {
            let base = layoutBlock.lowerBound + cell * 4
            free.append(0.299 * vector[base] + 0.587 * vector[base + 1] + 0.114 * vector[base + 2])
        }
        let norm = free.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? free.map { $0 / norm } : free
    }

    public static func compute(_ image: RGBImage) -> [Float] {
        let small = image.resized(width: side, height: side)
        let n = side * side
        var gray = [Float](repeating: 0, count: n), valueChannel = [Float](repeating: 0, count: n)
        let colour = small.pixels.withUnsafeBufferPointer { rgb in
            gray.withUnsafeMutableBufferPointer { gray in
                valueChannel.withUnsafeMutableBufferPointer { value in colourPass(rgb, gray: gray, value: value) }
            }
        }
        let gradients = gray.withUnsafeBufferPointer { gradientPass($0) }
        let hue = colour.hue.elements, saturation = colour.saturation.elements, value = colour.value.elements
        let orientation = gradients.orientation.elements, strength = gradients.strength.elements,
            lbp = gradients.lbp.elements

        // 4 × 4 layout: mean colour and value spread per cell.
        var layout = [Float](repeating: 0, count: 64)
        let cell = side / 4
        for cy in 0..<4 {
            for cx in 0..<4 {
                var sum: (Float, Float, Float) = (0, 0, 0), v = 0 as Float, v2 = 0 as Float
                for y in (cy * cell)..<((cy + 1) * cell) {
                    for x in (cx * cell)..<((cx + 1) * cell) {
                        let i = y * side + x
                        sum.0 += Float(small.pixels[i * 3]); sum.1 += Float(small.pixels[i * 3 + 1]);
                        sum.2 += Float(small.pixels[i * 3 + 2])
                        v += valueChannel[i]; v2 += valueChannel[i] * valueChannel[i]
                    }
                }
                let count = Float(cell * cell), base = (cy * 4 + cx) * 4
                layout[base] = sum.0 / count / 255
                layout[base + 1] = sum.1 / count / 255
                layout[base + 2] = sum.2 / count / 255
                layout[base + 3] = max(0, v2 / count - (v / count) * (v / count)).squareRoot()
            }
        }

        var vector: [Float] = []
        vector.reserveCapacity(dimension)
        for (block, weight) in [
            (hue, 1.0), (saturation, 1.0), (value, 1.0), (orientation + strength, 0.8), (lbp, 0.8), (layout, 1.2),
        ] as [([Float], Float)] {
            let norm = block.reduce(0) { $0 + $1 * $1 }.squareRoot()
            vector += block.map { norm > 0 ? $0 / norm * weight : 0 }
        }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return vector.map { norm > 0 ? $0 / norm : 0 }
    }

    /// The colour histograms, and each pixel's luma and HSV value for the passes after. These two
    /// passes run once a pixel (16,384 an image), so they work on raw buffers and fixed-size
    /// histograms: no bounds or uniqueness checks, no allocation.
    private static func colourPass(
        _ rgb: UnsafeBufferPointer<UInt8>, gray: UnsafeMutableBufferPointer<Float>,
        value valueChannel: UnsafeMutableBufferPointer<Float>
    ) -> (hue: InlineArray<24, Float>, saturation: InlineArray<8, Float>, value: InlineArray<16, Float>) {
        var hue = InlineArray<24, Float>(repeating: 0), saturation = InlineArray<8, Float>(repeating: 0),
            value = InlineArray<16, Float>(repeating: 0)
        // A pixel of the colour before it (a flat area: most of a clip-art picture) takes that
        // colour's bins and values, which the arithmetic would give it again.
        var last: (r: UInt8, g: UInt8, b: UInt8)? = nil
        var hueBin = 0, hueWeight: Float = 0, saturationBin = 0, valueBin = 0, luma: Float = 0, maxC: Float = 0
        for i in 0..<gray.count {
            let pixel = (r: rgb[i * 3], g: rgb[i * 3 + 1], b: rgb[i * 3 + 2])
            if last == nil || last! != pixel {
                last = pixel
                let r = Float(pixel.r) / 255, g = Float(pixel.g) / 255, b = Float(pixel.b) / 255
                maxC = max(r, g, b)
                let minC = min(r, g, b), chroma = maxC - minC
                let s = maxC > 0 ? chroma / maxC : 0
                var h: Float = 0
                if chroma > 0 {
                    if maxC == r {
                        h = (g - b) / chroma
                    } else if maxC == g {
                        h = 2 + (b - r) / chroma
                    } else {
                        h = 4 + (r - g) / chroma
                    }
                    // h / 6 lies in (−1, 1), where the remainder after dividing by 1 is the
                    // number itself: only the wrap of a negative hue is needed.
                    h = h / 6
                    if h < 0 { h += 1 }
                }
                hueBin = min(23, Int(h * 24))
                hueWeight = s * maxC
                saturationBin = min(7, Int(s * 8))
                valueBin = min(15, Int(maxC * 16))
                luma = 0.299 * r + 0.587 * g + 0.114 * b
            }
            hue[hueBin] += hueWeight
            saturation[saturationBin] += 1
            value[valueBin] += 1
            gray[i] = luma
            valueChannel[i] = maxC
        }
        return (hue, saturation, value)
    }

    /// Sobel gradients (an orientation histogram weighted by magnitude, and edge-strength bins)
    /// and the LBP texture codes, over the interior pixels of the luma plane. A flat pixel skips
    /// `atan2`: its magnitude, all it would add to its orientation bin, is 0.
    private static func gradientPass(
        _ g: UnsafeBufferPointer<Float>
    ) -> (orientation: InlineArray<16, Float>, strength: InlineArray<4, Float>, lbp: InlineArray<10, Float>) {
        var orientation = InlineArray<16, Float>(repeating: 0), strength = InlineArray<4, Float>(repeating: 0),
            lbp = InlineArray<10, Float>(repeating: 0)
        for y in 1..<(side - 1) {
            for x in 1..<(side - 1) {
                let up = (y - 1) * side + x, here = y * side + x, down = (y + 1) * side + x
                let nw = g[up - 1], n = g[up], ne = g[up + 1]
                let w = g[here - 1], centre = g[here], e = g[here + 1]
                let sw = g[down - 1], s = g[down], se = g[down + 1]
                let gx = (ne + 2 * e + se) - (nw + 2 * w + sw)
                let gy = (sw + 2 * s + se) - (nw + 2 * n + ne)
                let magnitude = (gx * gx + gy * gy).squareRoot()
                if magnitude > 0 {
                    var angle = atan2(gy, gx)
                    if angle < 0 { angle += .pi }
                    orientation[min(15, Int(angle / .pi * 16))] += magnitude
                }
                strength[magnitude < 0.1 ? 0 : magnitude < 0.4 ? 1 : magnitude < 1.0 ? 2 : 3] += 1
                // LBP riu2: neighbours in circular order (bit k of `brighter`); uniform patterns
                // (≤ 2 transitions around the ring) are coded by their count of brighter
                // neighbours (0–8), the rest share code 9.
                @inline(__always) func bit(_ neighbour: Float, _ k: UInt32) -> UInt32 {
                    neighbour >= centre ? 1 << k : 0
                }
                let brighter =
                    bit(nw, 0) | bit(n, 1) | bit(ne, 2) | bit(e, 3) | bit(se, 4) | bit(s, 5) | bit(sw, 6) | bit(w, 7)
                let rotated = (brighter >> 1) | ((brighter & 1) << 7)
                let transitions = (brighter ^ rotated).nonzeroBitCount
                lbp[transitions <= 2 ? brighter.nonzeroBitCount : 9] += 1
            }
        }
        return (orientation, strength, lbp)
    }
}

extension InlineArray {
    /// The elements, in order, as an array (an `InlineArray` is not a `Sequence`).
    fileprivate var elements: [Element] { indices.map { self[$0] } }
}
