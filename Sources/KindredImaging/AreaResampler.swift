/// Shrinks an image by exact area averaging, consuming input rows one at a time, so a decoder can
/// stream a 230-megapixel PNG through it holding one input row and two output rows, never the
/// whole image. Each output pixel is the mean of the input area it covers, with fractional
/// weights at the edges: an antialiased box filter, the right filter for large reductions.
/// Enlarging is done elsewhere (bilinear); this type only shrinks (or keeps) each axis.
struct AreaResampler {
    let inputWidth, inputHeight, outputWidth, outputHeight: Int
    /// Per output column: the first input column and the weights of the columns it covers.
    private let columnStart: [Int]
    private let columnWeights: [[Float]]
    private var accumulators: [[Float]]  // two output rows in progress, RGB floats
    private var nextInputRow = 0
    private(set) var output: RGBImage

    init(inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int) {
        precondition(outputWidth <= inputWidth && outputHeight <= inputHeight && outputWidth > 0 && outputHeight > 0)
        self.inputWidth = inputWidth
        self.inputHeight = inputHeight
        self.outputWidth = outputWidth
        self.outputHeight = outputHeight
        let scale = Double(inputWidth) / Double(outputWidth)
        var starts: [Int] = [], weights: [[Float]] = []
        for ox in 0..<outputWidth {
            let from = Double(ox) * scale, to = Double(ox + 1) * scale
            let first = Int(from), last = min(inputWidth - 1, Int((to - 1e-9).rounded(.down)))
            starts.append(first)
            weights.append((first...last).map { x in Float((min(to, Double(x + 1)) - max(from, Double(x))) / scale) })
        }
        columnStart = starts
        columnWeights = weights
        accumulators = [[Float](repeating: 0, count: outputWidth * 3), [Float](repeating: 0, count: outputWidth * 3)]
        output = RGBImage(width: outputWidth, height: outputHeight)
    }

    /// Adds the next input row (inputWidth × 3 bytes, RGB).
    mutating func add(row: UnsafePointer<UInt8>) {
        let y = nextInputRow
        nextInputRow += 1
        // Horizontal pass into one output-width row.
        var shrunk = [Float](repeating: 0, count: outputWidth * 3)
        for ox in 0..<outputWidth {
            var r: Float = 0, g: Float = 0, b: Float = 0
            let start = columnStart[ox]
            for (i, w) in columnWeights[ox].enumerated() {
                let p = (start + i) * 3
                r += Float(row[p]) * w
                g += Float(row[p + 1]) * w
                b += Float(row[p + 2]) * w
            }
            shrunk[ox * 3] = r
            shrunk[ox * 3 + 1] = g
            shrunk[ox * 3 + 2] = b
        }
        // Vertical pass: this row covers [y, y+1) of input, i.e. part of one or two output rows.
        let scale = Double(inputHeight) / Double(outputHeight)
        let top = Double(y) / scale, bottom = Double(y + 1) / scale
        var oy = Int(top)
        while oy < outputHeight, Double(oy) < bottom {
            let weight = Float((min(bottom, Double(oy + 1)) - max(top, Double(oy))))
            let slot = oy & 1
            for i in 0..<(outputWidth * 3) { accumulators[slot][i] += shrunk[i] * weight }
            // An output row is done when the input has passed its bottom edge.
            if Double(oy + 1) <= bottom + 1e-9 || y == inputHeight - 1 {
                for i in 0..<(outputWidth * 3) {
                    output.pixels[oy * outputWidth * 3 + i] = UInt8(max(0, min(255, accumulators[slot][i].rounded())))
                    accumulators[slot][i] = 0
                }
            }
            oy += 1
        }
    }
}

extension RGBImage {
    /// This image at `width` × `height`: area-averaged when shrinking, bilinear when enlarging.
    public func resized(width: Int, height: Int) -> RGBImage {
        if width == self.width && height == self.height { return self }
        var current = self
        if width < self.width || height < self.height {
            var resampler = AreaResampler(inputWidth: self.width, inputHeight: self.height,
                                          outputWidth: min(width, self.width), outputHeight: min(height, self.height))
            pixels.withUnsafeBufferPointer { p in
                for y in 0..<self.height { resampler.add(row: p.baseAddress! + y * self.width * 3) }
            }
            current = resampler.output
        }
        return current.width == width && current.height == height ? current : current.bilinear(width: width, height: height)
    }

    /// Bilinear enlargement with pixel centres aligned, as Pillow's BILINEAR does when enlarging.
    func bilinear(width: Int, height: Int) -> RGBImage {
        var out = RGBImage(width: width, height: height)
        let sx = Double(self.width) / Double(width), sy = Double(self.height) / Double(height)
        for y in 0..<height {
            let fy = max(0, (Double(y) + 0.5) * sy - 0.5)
            let y0 = min(Int(fy), self.height - 1), y1 = min(y0 + 1, self.height - 1)
            let wy = Float(fy - Double(y0))
            for x in 0..<width {
                let fx = max(0, (Double(x) + 0.5) * sx - 0.5)
                let x0 = min(Int(fx), self.width - 1), x1 = min(x0 + 1, self.width - 1)
                let wx = Float(fx - Double(x0))
                for c in 0..<3 {
                    let a = Float(pixels[(y0 * self.width + x0) * 3 + c]), b = Float(pixels[(y0 * self.width + x1) * 3 + c])
                    let d = Float(pixels[(y1 * self.width + x0) * 3 + c]), e = Float(pixels[(y1 * self.width + x1) * 3 + c])
                    let v = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy
                    out.pixels[(y * width + x) * 3 + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return out
    }

    /// The CNN's input: shorter side scaled to 256, centre 224 × 224 crop, (x − 127) / 128, NHWC.
    public func cnnInput(into destination: UnsafeMutablePointer<Float>) {
        let scale = 256 / Double(min(width, height))
        let w = max(224, Int((Double(width) * scale).rounded())), h = max(224, Int((Double(height) * scale).rounded()))
        let resized = resized(width: w, height: h)
        let left = (w - 224) / 2, top = (h - 224) / 2
        for y in 0..<224 {
            for x in 0..<224 {
                for c in 0..<3 {
                    destination[(y * 224 + x) * 3 + c] = (Float(resized.pixels[((top + y) * w + left + x) * 3 + c]) - 127) / 128
                }
            }
        }
    }
}
