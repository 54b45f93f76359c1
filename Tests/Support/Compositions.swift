import KindredImaging

/// A composition of overlapping coloured shapes, set by a seed: edges at every scale, like clip art
/// and paintings, rather than one smooth field.
public func composition(width: Int, height: Int, seed: UInt64) -> RGBImage {
    var image = RGBImage(width: width, height: height)
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    func next(_ bound: Int) -> Int {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Int(state % UInt64(bound))
    }
    for _ in 0..<40 {
        let cx = next(width), cy = next(height), rx = 10 + next(width / 3), ry = 10 + next(height / 3)
        let colour = [UInt8(next(256)), UInt8(next(256)), UInt8(next(256))]
        let round = next(2) == 0
        for y in max(0, cy - ry)..<min(height, cy + ry) {
            for x in max(0, cx - rx)..<min(width, cx + rx) {
                let dx = Double(x - cx) / Double(rx), dy = Double(y - cy) / Double(ry)
                if round && dx * dx + dy * dy > 1 { continue }
                for c in 0..<3 { image.pixels[(y * width + x) * 3 + c] = colour[c] }
            }
        }
    }
    return image
}
