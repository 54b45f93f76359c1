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
        var hue = [Float](repeating: 0, count: 24), saturation = [Float](repeating: 0, count: 8),
            value = [Float](repeating: 0, count: 16)
        var gray = [Float](repeating: 0, count: n), valueChannel = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let r = Float(small.pixels[i * 3]) / 255, g = Float(small.pixels[i * 3 + 1]) / 255,
                b = Float(small.pixels[i * 3 + 2]) / 255
            let maxC = max(r, g, b), minC = min(r, g, b), chroma = maxC - minC
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
                h = (h / 6).truncatingRemainder(dividingBy: 1)
                if h < 0 { h += 1 }
            }
            hue[min(23, Int(h * 24))] += s * maxC
            saturation[min(7, Int(s * 8))] += 1
            value[min(15, Int(maxC * 16))] += 1
            gray[i] = 0.299 * r + 0.587 * g + 0.114 * b
            valueChannel[i] = maxC
        }

        // Sobel gradients: orientation histogram weighted by magnitude, plus edge-strength bins.
        var orientation = [Float](repeating: 0, count: 16), strength = [Float](repeating: 0, count: 4)
        var lbp = [Float](repeating: 0, count: 10)
        for y in 1..<(side - 1) {
            for x in 1..<(side - 1) {
                func p(_ dx: Int, _ dy: Int) -> Float { gray[(y + dy) * side + x + dx] }
                let gx = (p(1, -1) + 2 * p(1, 0) + p(1, 1)) - (p(-1, -1) + 2 * p(-1, 0) + p(-1, 1))
                let gy = (p(-1, 1) + 2 * p(0, 1) + p(1, 1)) - (p(-1, -1) + 2 * p(0, -1) + p(1, -1))
                let magnitude = (gx * gx + gy * gy).squareRoot()
                var angle = atan2(gy, gx)
                if angle < 0 { angle += .pi }
                orientation[min(15, Int(angle / .pi * 16))] += magnitude
                strength[magnitude < 0.1 ? 0 : magnitude < 0.4 ? 1 : magnitude < 1.0 ? 2 : 3] += 1
                // LBP riu2: neighbours in circular order; uniform patterns (≤ 2 transitions) are
                // coded by their count of brighter neighbours (0–8), the rest share code 9.
                let centre = p(0, 0)
                let ring: [Float] = [p(-1, -1), p(0, -1), p(1, -1), p(1, 0), p(1, 1), p(0, 1), p(-1, 1), p(-1, 0)]
                var bits = 0, transitions = 0
                for k in 0..<8 {
                    let a = ring[k] >= centre, b = ring[(k + 1) % 8] >= centre
                    if a { bits += 1 }
                    if a != b { transitions += 1 }
                }
                lbp[transitions <= 2 ? bits : 9] += 1
            }
        }

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
}
