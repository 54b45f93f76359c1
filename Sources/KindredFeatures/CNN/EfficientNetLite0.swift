import CKindredKernels
import COpenBLAS
import Dispatch
import Foundation
import KindredCore

/// EfficientNet-Lite0 inference on OpenBLAS, NHWC, batched.
///
/// 1×1 convolutions (expand, project, head) and the stem (through im2col) are single sgemm calls
/// over a batch of images; depthwise convolutions, bias and ReLU6 run in the C kernels. Threads
/// split the images, each running single-threaded sgemm on its own buffers: splitting each layer
/// instead left OpenBLAS's spinning threads and the depthwise workers fighting over the cores
/// (2 threads ran 1.28× one thread; by images they run close to 2×). When there are fewer images
/// than threads (one image: a `SIMILAR-IMAGE` query), the threads split each layer's rows instead,
/// so one image's latency goes down with the cores; OpenBLAS stays single-threaded, so nothing
/// spins. Only the C kernels' layers are split (im2col, depthwise, the 1×1 kernel, bias, the
/// residual add), at multiples of 4 rows (the 1×1 kernel's row block), so every output is
/// computed by the same instructions in the same order: features are bit-identical whatever the
/// thread count. The sgemm layers run whole on one thread (see `pointwise`). Buffers are allocated once per worker and reused, so a forward pass allocates
/// nothing. One instance is used by one caller at a time.
public final class EfficientNetLite0 {
    public static let inputSize = CNNInput.side
    public static let featureDimension = Space.cnn.dimension
    public static let classCount = CNNInput.classes
    /// The version of what the network's vectors mean (weights, preprocessing, pooling): raising
    /// it re-extracts every collection's `cnn` space in the background.
    public static let producerVersion: UInt32 = 1

    typealias Architecture = EfficientNetLite0Architecture
    struct BlockWeights {
        let shape: Architecture.Block
        let expand: (weight: [Float], bias: [Float])?
        let depthwise: (weight: [Float], bias: [Float])
        let project: (weight: [Float], bias: [Float])
    }

    let stem: (weight: [Float], bias: [Float])
    let blocks: [BlockWeights]
    let head: (weight: [Float], bias: [Float])
    let classifier: (weight: [Float], bias: [Float])
    /// Images per internal batch: large enough to keep sgemm efficient, small enough for cache.
    public let batchSize: Int
    public let threads: Int

    private let workspaces: [Workspace]

    /// One worker's activations, sized for the largest layer of a batch.
    final class Workspace: @unchecked Sendable {  // used by one worker at a time
        let a, b, expand, depthwise, columns, head: UnsafeMutablePointer<Float>

        init(batchSize n: Int) {
            var h = 112, main = 112 * 112 * 32, expanded = 0, depthwiseSize = 0
            for block in Architecture.blocks {
                expanded = max(expanded, h * h * block.expanded)
                let out = (h + block.stride - 1) / block.stride
                depthwiseSize = max(depthwiseSize, out * out * block.expanded)
                main = max(main, out * out * block.output)
                h = out
            }
            a = .allocate(capacity: n * main)
            b = .allocate(capacity: n * main)
            expand = .allocate(capacity: n * expanded)
            depthwise = .allocate(capacity: n * depthwiseSize)
            columns = .allocate(capacity: n * 112 * 112 * 27)
            head = .allocate(capacity: n * 7 * 7 * EfficientNetLite0.featureDimension)
        }

        deinit { for buffer in [a, b, expand, depthwise, columns, head] { buffer.deallocate() } }
    }

    public init(
        weights: ModelWeights, batchSize: Int = 8, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws(WeightsError) {
        func get(_ name: String, _ shape: [Int]) throws(WeightsError) -> [Float] {
            guard let t = weights[name] else {
                throw WeightsError(path: weights.model, reason: "weight file lacks \(name)")
            }
            guard t.shape == shape else {
                throw WeightsError(path: weights.model, reason: "\(name) has shape \(t.shape), expected \(shape)")
            }
            return t.values
        }
        guard weights.model == Architecture.modelName else {
            throw WeightsError(
                path: weights.model, reason: "weights are for \(weights.model), not \(Architecture.modelName)")
        }
        stem = (try get("stem.weight", [27, 32]), try get("stem.bias", [32]))
        var blocks: [BlockWeights] = []
        for b in Architecture.blocks {
            let p = "block\(b.index)."
            let expand =
                b.hasExpansion
                ? (try get(p + "expand.weight", [b.input, b.expanded]), try get(p + "expand.bias", [b.expanded])) : nil
            blocks.append(
                BlockWeights(
                    shape: b, expand: expand,
                    depthwise: (
                        try get(p + "depthwise.weight", [b.kernel, b.kernel, b.expanded]),
                        try get(p + "depthwise.bias", [b.expanded])
                    ),
                    project: (
                        try get(p + "project.weight", [b.expanded, b.output]), try get(p + "project.bias", [b.output])
                    )))
        }
        self.blocks = blocks
        head = (try get("head.weight", [320, 1280]), try get("head.bias", [1280]))
        classifier = (try get("fc.weight", [1280, 1000]), try get("fc.bias", [1000]))
        self.batchSize = max(1, batchSize)
        self.threads = max(1, threads)

        workspaces = (0..<self.threads).map { _ in Workspace(batchSize: max(1, batchSize)) }
    }

    /// Runs `count` images. `input` holds them as count × 224 × 224 × 3 floats (NHWC), already
    /// normalised as (x − 127) / 128. Writes count × 1280 features (before any normalisation) and,
    /// if asked, count × 1000 ImageNet logits.
    public func run(
        _ input: UnsafePointer<Float>, count: Int, features: UnsafeMutablePointer<Float>,
        logits: UnsafeMutablePointer<Float>? = nil
    ) {
        openblas_set_num_threads(1)
        if count < threads {
            // Fewer images than threads: each image's layers split over every thread.
            for image in 0..<count {
                forward(
                    workspaces[0], input + image * CNNInput.count, 1, features + image * Self.featureDimension,
                    logits.map { $0 + image * 1000 }, splitOver: threads)
            }
            return
        }
        let workers = min(threads, count)
        let work = UnsafeSendableBox((input, features, logits))
        let run = { (worker: Int) in
            let (input, features, logits) = work.value
            var done = count * worker / workers
            let end = count * (worker + 1) / workers
            while done < end {
                let n = min(self.batchSize, end - done)
                self.forward(
                    self.workspaces[worker], input + done * CNNInput.count, n, features + done * Self.featureDimension,
                    logits.map { $0 + done * 1000 })
                done += n
            }
        }
        if workers <= 1 { return run(0) }
        let task = UnsafeSendableBox(run)
        DispatchQueue.concurrentPerform(iterations: workers) { task.value($0) }
    }

    /// Runs `body` over [0, rows) split into `parts` ranges (cut at multiples of 4) on as many
    /// threads; one part runs inline.
    private static func split(_ rows: Int, _ parts: Int, _ body: (Int, Int) -> Void) {
        guard parts > 1, rows >= 8 * parts else { return body(0, rows) }
        let cut = { @Sendable (t: Int) in t == parts ? rows : rows * t / parts / 4 * 4 }
        withoutActuallyEscaping(body) { body in
            let task = UnsafeSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: parts) { t in task.value(cut(t), cut(t + 1)) }
        }
    }

    /// `splitOver` > 1: one image (n = 1), every layer's rows split over that many threads.
    private func forward(
        _ space: Workspace, _ input: UnsafePointer<Float>, _ n: Int, _ features: UnsafeMutablePointer<Float>,
        _ logits: UnsafeMutablePointer<Float>?, splitOver parts: Int = 1
    ) {
        // Stem: 3×3 stride 2, 3 → 32, through im2col and one sgemm.
        let (stemSize, stemPad) = Self.same(224, kernel: 3, stride: 2)
        let columns = space.columns
        let work = UnsafeSendableBox((input, columns))
        for image in 0..<n {
            Self.split(stemSize, parts) { first, last in
                let (input, columns) = work.value
                kk_im2col(
                    input + image * CNNInput.count, 224, 224, 3, 3, 2, Int32(stemPad), Int32(stemPad),
                    Int32(stemSize), Int32(stemSize), columns + image * stemSize * stemSize * 27, Int32(first),
                    Int32(last))
            }
        }
        var current = space.a, other = space.b
        // One sgemm, never split (see `pointwise`); its bias and ReLU6 are.
        let pixels = n * stemSize * stemSize
        gemm(columns, rows: pixels, inner: 27, stem.weight, columns: 32, into: current)
        let stemOut = UnsafeSendableBox(current)
        Self.split(pixels, parts) { first, last in
            self.biasActivate(
                stemOut.value + first * 32, rows: last - first, columns: 32, bias: self.stem.bias, relu6: true)
        }

        var size = stemSize
        for block in blocks {
            let b = block.shape
            var source = UnsafePointer(current)
            if let expand = block.expand {
                pointwise(
                    current, rows: n * size * size, inner: b.input, expand, columns: b.expanded, relu6: true,
                    into: space.expand, splitOver: parts)
                source = UnsafePointer(space.expand)
            }
            let (out, pad) = Self.same(size, kernel: b.kernel, stride: b.stride)
            let depthwise = space.depthwise, inSize = size
            let buffers = UnsafeSendableBox((source, depthwise))
            block.depthwise.weight.withUnsafeBufferPointer { w in
                block.depthwise.bias.withUnsafeBufferPointer { bias in
                    let parameters = UnsafeSendableBox((w.baseAddress!, bias.baseAddress!))
                    for image in 0..<n {
                        Self.split(out, parts) { first, last in
                            let (source, depthwise) = buffers.value, (w, bias) = parameters.value
                            kk_depthwise(
                                source + image * inSize * inSize * b.expanded, Int32(inSize), Int32(inSize),
                                Int32(b.expanded), w, bias, Int32(b.kernel), Int32(b.stride), Int32(pad), Int32(pad),
                                depthwise + image * out * out * b.expanded, Int32(out), Int32(out), 1, Int32(first),
                                Int32(last))
                        }
                    }
                }
            }
            pointwise(
                space.depthwise, rows: n * out * out, inner: b.expanded, block.project, columns: b.output, relu6: false,
                into: other, splitOver: parts)
            if b.residual {
                let sum = UnsafeSendableBox((other, current)), count = n * out * out * b.output
                Self.split(count, parts) { first, last in kk_add(sum.value.0, sum.value.1, first, last) }
            }
            swap(&current, &other)
            size = out
        }

        pointwise(
            current, rows: n * size * size, inner: 320, head, columns: Self.featureDimension, relu6: true,
            into: space.head, splitOver: parts)
        for image in 0..<n {
            kk_mean_rows(
                space.head + image * size * size * Self.featureDimension, Int32(size * size),
                Int32(Self.featureDimension), features + image * Self.featureDimension)
        }
        if let logits {
            gemm(
                features, rows: n, inner: Self.featureDimension, classifier.weight, columns: Self.classCount,
                into: logits)
            biasActivate(logits, rows: n, columns: 1000, bias: classifier.bias, relu6: false)
        }
    }

    /// TensorFlow "SAME": output ⌈size/stride⌉, with any odd padding row at the bottom/right.
    static func same(_ size: Int, kernel: Int, stride: Int) -> (output: Int, padBefore: Int) {
        let output = (size + stride - 1) / stride
        let total = max((output - 1) * stride + kernel - size, 0)
        return (output, total / 2)
    }

    /// A 1×1 convolution with bias and activation. Below `pointwiseMaxInner` inputs the
    /// register-blocked kernel wins (sgemm spends its time packing and zeroing such skinny
    /// products); above it, sgemm's cache blocking does.
    private func pointwise(
        _ a: UnsafePointer<Float>, rows: Int, inner: Int, _ layer: (weight: [Float], bias: [Float]), columns: Int,
        relu6: Bool, into c: UnsafeMutablePointer<Float>, splitOver parts: Int = 1
    ) {
        // sgemm layers (inner above the kernel's limit) are not split: OpenBLAS sums a row
        // differently depending on how many rows it is given, and features must not depend on
        // the thread count. They are about 7 % of the time (Benchmarks/RESULTS.md).
        if parts > 1 && inner <= Self.pointwiseMaxInner {
            let buffers = UnsafeSendableBox((a, c))
            return Self.split(rows, parts) { first, last in
                let (a, c) = buffers.value
                self.pointwise(
                    a + first * inner, rows: last - first, inner: inner, layer, columns: columns, relu6: relu6,
                    into: c + first * columns)
            }
        }
        if inner <= Self.pointwiseMaxInner {
            layer.weight.withUnsafeBufferPointer { w in
                layer.bias.withUnsafeBufferPointer { b in
                    kk_pointwise(
                        a, Int32(rows), Int32(inner), w.baseAddress!, Int32(columns), b.baseAddress!, relu6 ? 1 : 0, c)
                }
            }
        } else {
            gemm(a, rows: rows, inner: inner, layer.weight, columns: columns, into: c)
            biasActivate(c, rows: rows, columns: columns, bias: layer.bias, relu6: relu6)
        }
    }

    /// Measured against sgemm alone (Benchmarks/RESULTS.md): every expand layer (inner ≤ 192) and
    /// the narrow projections go to the kernel; 200 beat 0, 64, 120, 320, 700 and all.
    static let pointwiseMaxInner = 200

    /// C (rows × columns) = A (rows × inner) · B (inner × columns), row-major.
    private func gemm(
        _ a: UnsafePointer<Float>, rows: Int, inner: Int, _ b: [Float], columns: Int,
        into c: UnsafeMutablePointer<Float>
    ) {
        b.withUnsafeBufferPointer { bp in
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(columns), Int32(inner), 1,
                a, Int32(inner), bp.baseAddress!, Int32(columns), 0, c, Int32(columns))
        }
    }

    private func biasActivate(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: [Float], relu6: Bool) {
        bias.withUnsafeBufferPointer { bp in
            let b = bp.baseAddress!
            kk_bias_activate(x, Int32(columns), b, relu6 ? 1 : 0, 0, Int32(rows))
        }
    }

}
