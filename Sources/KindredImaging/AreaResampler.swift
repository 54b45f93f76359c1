import CKindredKernels

/// Shrinks an image by exact area averaging, consuming input rows one at a time, so a decoder can
/// stream a 230-megapixel PNG through it holding one input row and two output rows, never the
/// whole image. Each output pixel is the mean of the input area it covers, with fractional
/// weights at the edges: an antialiased box filter, the right filter for large reductions.
/// Enlarging is done elsewhere (bilinear); this type only shrinks (or keeps) each axis.
struct AreaResampler {
    let inputWidth, inputHeight, outputWidth, outputHeight: Int
    /// Per output column: the first input column, and where its weights start in `columnWeights`
    /// (one weight per input column it covers; the last entry is the end of the last column's).
    private let columnStart: [Int]
    private let weightStart: [Int]
    private let columnWeights: [Float]
    /// Two input-width RGB rows of vertically weighted sums, for the output rows in progress
    /// (an input row can straddle two output rows).
    private var accumulators: [Float]
    private var nextInputRow = 0
    private(set) var output: RGBImage
    /// Time spent in `add(row:)`, for `PipelineStage.resample` (two clock reads a row: tens of
    /// nanoseconds against the row's microseconds of work).
    private(set) var busy = Duration.zero

    init(inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int) {
        precondition(outputWidth <= inputWidth && outputHeight <= inputHeight && outputWidth > 0 && outputHeight > 0)
        self.inputWidth = inputWidth
        self.inputHeight = inputHeight
        self.outputWidth = outputWidth
        self.outputHeight = outputHeight
        let scale = Double(inputWidth) / Double(outputWidth)
        var starts: [Int] = [], offsets: [Int] = [0], weights: [Float] = []
        for ox in 0..<outputWidth {
            let from = Double(ox) * scale, to = Double(ox + 1) * scale
            let first = Int(from), last = min(inputWidth - 1, Int((to - 1e-9).rounded(.down)))
            starts.append(first)
            weights += (first...last).map { x in Float((min(to, Double(x + 1)) - max(from, Double(x))) / scale) }
            offsets.append(weights.count)
        }
        columnStart = starts
        weightStart = offsets
        columnWeights = weights
        accumulators = [Float](repeating: 0, count: 2 * inputWidth * 3)
        output = RGBImage(width: outputWidth, height: outputHeight)
    }

    /// Adds the next input row (inputWidth × 3 bytes, RGB). The vertical pass runs on every input
    /// row (a contiguous multiply-add, in the C kernel for this CPU); the horizontal pass only once
    /// per output row, which is what makes large reductions cheap.
    mutating func add(row: UnsafePointer<UInt8>) {
        let begun = ContinuousClock.now
        defer { busy += ContinuousClock.now - begun }
        let y = nextInputRow
        nextInputRow += 1
        let n = inputWidth * 3
        let scale = Double(inputHeight) / Double(outputHeight)
        let top = Double(y) / scale, bottom = Double(y + 1) / scale
        var oy = Int(top)
        // Moved out while in use, so `emit` may mutate self without copying the buffer.
        var accumulators: [Float] = []
        swap(&accumulators, &self.accumulators)
        defer { swap(&accumulators, &self.accumulators) }
        while oy < outputHeight, Double(oy) < bottom {
            let weight = Float(min(bottom, Double(oy + 1)) - max(top, Double(oy)))
            let finished = Double(oy + 1) <= bottom + 1e-9 || y == inputHeight - 1
            let outputRow = oy
            accumulators.withUnsafeMutableBufferPointer { all in
                let sums = all.baseAddress! + (outputRow & 1) * n
                kk_accumulate_bytes(PixelKernels.level, sums, row, n, weight)
                // An output row is done when the input has passed its bottom edge.
                if finished {
                    emit(row: outputRow, from: sums)
                    sums.update(repeating: 0, count: n)
                }
            }
            oy += 1
        }
    }

    /// The horizontal pass for one finished output row.
    private mutating func emit(row oy: Int, from sums: UnsafePointer<Float>) {
        let width = outputWidth
        columnStart.withUnsafeBufferPointer { starts in
            weightStart.withUnsafeBufferPointer { offsets in
                columnWeights.withUnsafeBufferPointer { weights in
                    output.pixels.withUnsafeMutableBufferPointer { pixels in
                        let out = pixels.baseAddress! + oy * width * 3
                        for ox in 0..<width {
                            var r: Float = 0, g: Float = 0, b: Float = 0
                            var p = sums + starts[ox] * 3
                            for k in offsets[ox]..<offsets[ox + 1] {
                                let w = weights[k]
                                r += p[0] * w
                                g += p[1] * w
                                b += p[2] * w
                                p += 3
                            }
                            // Sums are non-negative, so adding ½ and truncating rounds to nearest.
                            out[ox * 3] = UInt8(min(255, r + 0.5))
                            out[ox * 3 + 1] = UInt8(min(255, g + 0.5))
                            out[ox * 3 + 2] = UInt8(min(255, b + 0.5))
                        }
                    }
                }
            }
        }
    }
}

extension RGBImage {
    /// This image at `width` × `height`: area-averaged when shrinking, bilinear when enlarging.
    public func resized(width: Int, height: Int) -> RGBImage {
        resized(width: width, height: height, window: Window(x: 0, y: 0, width: width, height: height))
    }

    /// A part of a resized image, in the resized image's pixels.
    public struct Window: Sendable {
        public var x, y, width, height: Int
        public init(x: Int, y: Int, width: Int, height: Int) {
            (self.x, self.y, self.width, self.height) = (x, y, width, height)
        }
    }

    /// `window` of this image at `width` × `height`: the same pixels as cropping `resized(width:
    /// height:)`, but an enlargement computes only the window's (the CNN's centre crop is 224 of
    /// 256 or more on each side, and most of openclipart is enlarged to it).
    public func resized(width: Int, height: Int, window: Window) -> RGBImage {
        precondition(
            window.x >= 0 && window.y >= 0 && window.width >= 1 && window.height >= 1
                && window.x + window.width <= width && window.y + window.height <= height)
        var current = self
        if width < self.width || height < self.height {
            var resampler = AreaResampler(
                inputWidth: self.width, inputHeight: self.height,
                outputWidth: min(width, self.width), outputHeight: min(height, self.height))
            pixels.withUnsafeBufferPointer { p in
                for y in 0..<self.height { resampler.add(row: p.baseAddress! + y * self.width * 3) }
            }
            current = resampler.output
        }
        if current.width == width && current.height == height {
            return window.width == width && window.height == height ? current : current.cropped(to: window)
        }
        return current.bilinear(width: width, height: height, window: window)
    }

    /// The pixels inside `window`.
    func cropped(to window: Window) -> RGBImage {
        var out = RGBImage(width: window.width, height: window.height)
        let rowBytes = window.width * 3
        for y in 0..<window.height {
            let from = ((window.y + y) * width + window.x) * 3
            out.pixels.replaceSubrange((y * rowBytes)..<((y + 1) * rowBytes), with: pixels[from..<(from + rowBytes)])
        }
        return out
    }

    /// `window` of the bilinear enlargement to `width` × `height`, pixel centres aligned, as
    /// Pillow's BILINEAR does when enlarging. Each output pixel depends only on its position, so
    /// a window is exactly the crop of the whole.
    func bilinear(width: Int, height: Int, window: Window) -> RGBImage {
        var out = RGBImage(width: window.width, height: window.height)
        let sx = Double(self.width) / Double(width), sy = Double(self.height) / Double(height)
        // Each column's two source offsets and weight, computed once rather than per row.
        var x0s = [Int](repeating: 0, count: window.width), x1s = x0s
        var wxs = [Float](repeating: 0, count: window.width)
        for i in 0..<window.width {
            let fx = max(0, (Double(window.x + i) + 0.5) * sx - 0.5)
            let x0 = min(Int(fx), self.width - 1)
            (x0s[i], x1s[i], wxs[i]) = (x0 * 3, min(x0 + 1, self.width - 1) * 3, Float(fx - Double(x0)))
        }
        // Rows blended across first, each source row once (an enlargement reads each for several
        // output rows): `a · (1 − wx) + b · wx` is the same float whether kept or recomputed, so
        // the result is the one-pixel-at-a-time formula's, bit for bit.
        let sourceHeight = self.height, n = window.width * 3
        var upper = [Float](repeating: 0, count: n), lower = upper
        var (upperRow, lowerRow) = (-1, -1)
        func blendAcross(_ sourceRow: Int, into row: inout [Float]) {
            pixels.withUnsafeBufferPointer { source in
                let line = source.baseAddress! + sourceRow * self.width * 3
                row.withUnsafeMutableBufferPointer { row in
                    for x in 0..<window.width {
                        let (x0, x1, wx) = (x0s[x], x1s[x], wxs[x])
                        for c in 0..<3 { row[x * 3 + c] = Float(line[x0 + c]) * (1 - wx) + Float(line[x1 + c]) * wx }
                    }
                }
            }
        }
        out.pixels.withUnsafeMutableBufferPointer { destination in
            for y in 0..<window.height {
                let fy = max(0, (Double(window.y + y) + 0.5) * sy - 0.5)
                let y0 = min(Int(fy), sourceHeight - 1), y1 = min(y0 + 1, sourceHeight - 1)
                let wy = Float(fy - Double(y0))
                if upperRow != y0 {
                    if lowerRow == y0 {
                        swap(&upper, &lower)
                        (upperRow, lowerRow) = (lowerRow, upperRow)
                    } else {
                        blendAcross(y0, into: &upper)
                        upperRow = y0
                    }
                }
                if lowerRow != y1 {
                    blendAcross(y1, into: &lower)
                    lowerRow = y1
                }
                // The vertical blend, rounded to bytes, in the C kernel: Swift's checked float-to-byte
                // conversion kept this loop scalar, and it was 86 % of the enlargement's time.
                let row = destination.baseAddress! + y * n
                upper.withUnsafeBufferPointer { upper in
                    lower.withUnsafeBufferPointer { lower in
                        kk_blend_rows(PixelKernels.level, upper.baseAddress!, lower.baseAddress!, n, wy, row)
                    }
                }
            }
        }
        return out
    }

    /// The CNN's input: shorter side scaled to 256, centre 224 × 224 crop, (x − 127) / 128, NHWC.
    public func cnnInput(into destination: UnsafeMutablePointer<Float>) {
        let scale = 256 / Double(min(width, height))
        let w = max(224, Int((Double(width) * scale).rounded())), h = max(224, Int((Double(height) * scale).rounded()))
        let crop = resized(
            width: w, height: h, window: Window(x: (w - 224) / 2, y: (h - 224) / 2, width: 224, height: 224))
        crop.pixels.withUnsafeBufferPointer { pixels in
            for i in 0..<(224 * 224 * 3) { destination[i] = (Float(pixels[i]) - 127) / 128 }
        }
    }
}

/// The per-pixel C kernels' instruction-set level, chosen once.
enum PixelKernels {
    static let level = kk_imaging_level()
}
