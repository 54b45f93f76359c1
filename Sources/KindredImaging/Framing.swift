/// How a picture is prepared before it is described: which part of it the CNN sees, and whether a
/// uniform border (a mat, a scanner's margin, a clip art's empty canvas) is cut away first.
///
/// The reference pipeline crops the centre square: on a 2:1 picture it loses half of it, and a
/// copy with a mat added is seen as a smaller picture in a frame. Kindred's choice between these
/// was measured on the dev sets (`Benchmarks/quality/`, RESULTS.md "Find similar").
public struct Framing: Sendable, Hashable {
    public enum Fit: String, Sendable, CaseIterable {
        /// Shorter side to 256, the centre 224 × 224: the reference's (and ImageNet's) evaluation crop.
        case centreCrop = "crop"
        /// Longer side to 224, centred on a square filled with the picture's border colour: the
        /// whole picture, at the cost of resolution on the long side.
        case whole = "pad"
    }

    public var fit: Fit
    /// Cut away uniform borders (`RGBImage.trimmingUniformBorders`) before anything is described.
    public var trimBorders: Bool
    /// With the whole fit, the share of the input's side left as padding on each side: a trimmed
    /// picture otherwise touches the frame, which ImageNet's photographs seldom do.
    public var margin: Double

    public init(fit: Fit, trimBorders: Bool, margin: Double = 0) {
        self.fit = fit
        self.trimBorders = trimBorders
        self.margin = max(0, min(0.25, margin))
    }

    /// The reference pipeline's framing, kept for comparison and the oracle check.
    public static let reference = Framing(fit: .centreCrop, trimBorders: false)

    /// What is described: the decoded picture, trimmed if asked.
    public func prepare(_ image: RGBImage) -> RGBImage {
        trimBorders ? image.trimmingUniformBorders() : image
    }
}

extension RGBImage {
    /// This picture without the uniform frame around it: a mat, a scanner's margin, a letterbox,
    /// a drawing's empty canvas. A border is a frame only where opposite sides both have one, in
    /// the same colour (within `tolerance` per channel): then each of those two sides loses its
    /// rows (or columns) of that colour, however many. A border on one side alone, or two
    /// opposite sides in different colours, is the picture's own: a flag's outer stripes, a
    /// sky. Cutting those made a flag and its matted or rotated copy two different pictures (the
    /// original lost its stripes, the copy, whose frame is the mat, kept them). Frames inside
    /// frames (a mat around a drawing's canvas) are cut in turn, so a copy with a mat added is
    /// cut back to what its original is cut to. A trim that would leave less than a sixteenth of
    /// the area, or a side under 8 pixels, is not made: that picture is its border (a blank page,
    /// a flat colour field), and describing it whole is more faithful than describing a sliver.
    public func trimmingUniformBorders(tolerance: Int = 24) -> RGBImage {
        guard width >= 16, height >= 16 else { return self }
        return pixels.withUnsafeBufferPointer { p -> RGBImage in
            func near(_ i: Int, _ reference: Int) -> Bool {
                abs(Int(p[i]) - Int(p[reference])) <= tolerance
                    && abs(Int(p[i + 1]) - Int(p[reference + 1])) <= tolerance
                    && abs(Int(p[i + 2]) - Int(p[reference + 2])) <= tolerance
            }
            func pixel(_ x: Int, _ y: Int) -> Int { (y * width + x) * 3 }
            var top = 0, bottom = height - 1, left = 0, right = width - 1
            // Whether row y (or column x), within the current bounds, is all the colour at `reference`.
            func rowIs(_ y: Int, _ reference: Int) -> Bool {
                (left...right).allSatisfy { near(pixel($0, y), reference) }
            }
            func columnIs(_ x: Int, _ reference: Int) -> Bool {
                (top...bottom).allSatisfy { near(pixel(x, $0), reference) }
            }
            var cut = true
            while cut {
                cut = false
                // Top and bottom: a frame when both edge rows are uniform in one colour.
                let above = pixel(left, top)
                if top < bottom, rowIs(top, above), rowIs(bottom, above) {
                    while top < bottom, rowIs(top, above) { top += 1 }
                    while bottom > top, rowIs(bottom, above) { bottom -= 1 }
                    cut = true
                }
                let before = pixel(left, top)
                if left < right, columnIs(left, before), columnIs(right, before) {
                    while left < right, columnIs(left, before) { left += 1 }
                    while right > left, columnIs(right, before) { right -= 1 }
                    cut = true
                }
            }
            let w = right - left + 1, h = bottom - top + 1
            guard w >= 8, h >= 8, w * h * 16 >= width * height, w < width || h < height else { return self }
            var out = [UInt8](repeating: 0, count: w * h * 3)
            for y in 0..<h {
                let from: Int = pixel(left, top + y), to: Int = y * w * 3, count: Int = w * 3
                out.replaceSubrange(to..<(to + count), with: p[from..<(from + count)])
            }
            return RGBImage(width: w, height: h, pixels: out)
        }
    }

    /// This picture mirrored left to right.
    public func mirrored() -> RGBImage {
        var out = self
        for y in 0..<height {
            for x in 0..<width {
                let from = (y * width + width - 1 - x) * 3, to = (y * width + x) * 3
                out.pixels[to] = pixels[from]
                out.pixels[to + 1] = pixels[from + 1]
                out.pixels[to + 2] = pixels[from + 2]
            }
        }
        return out
    }

    /// The mean colour of the outermost rows and columns: what a whole-picture fit pads with, so
    /// the padding continues the picture's own surround (white for clip art on a white canvas).
    func borderColour() -> (UInt8, UInt8, UInt8) {
        var sum = (0, 0, 0), count = 0
        func add(_ x: Int, _ y: Int) {
            let i = (y * width + x) * 3
            sum = (sum.0 + Int(pixels[i]), sum.1 + Int(pixels[i + 1]), sum.2 + Int(pixels[i + 2]))
            count += 1
        }
        for x in 0..<width {
            add(x, 0)
            add(x, height - 1)
        }
        for y in 0..<height {
            add(0, y)
            add(width - 1, y)
        }
        return (UInt8(sum.0 / count), UInt8(sum.1 / count), UInt8(sum.2 / count))
    }

    /// The CNN's input as `framing` fits it: 224 × 224 × 3, (x − 127) / 128, NHWC.
    public func cnnInput(into destination: UnsafeMutablePointer<Float>, framing: Framing) {
        switch framing.fit {
        case .centreCrop:
            cnnInput(into: destination)
        case .whole:
            let side = 224
            let inner = Double(side) * (1 - 2 * framing.margin)
            let scale = inner / Double(max(width, height))
            let w = min(side, max(1, Int((Double(width) * scale).rounded()))),
                h = min(side, max(1, Int((Double(height) * scale).rounded())))
            let resized = resized(width: w, height: h)
            let pad = borderColour()
            let fill = [(Float(pad.0) - 127) / 128, (Float(pad.1) - 127) / 128, (Float(pad.2) - 127) / 128]
            for i in 0..<(side * side) {
                destination[i * 3] = fill[0]
                destination[i * 3 + 1] = fill[1]
                destination[i * 3 + 2] = fill[2]
            }
            let left = (side - w) / 2, top = (side - h) / 2
            for y in 0..<h {
                for x in 0..<w {
                    for c in 0..<3 {
                        destination[((top + y) * side + left + x) * 3 + c] =
                            (Float(resized.pixels[(y * w + x) * 3 + c]) - 127) / 128
                    }
                }
            }
        }
    }
}
