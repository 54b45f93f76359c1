import CKindredKernels
import COpenBLAS
import Dispatch
import Foundation

/// EfficientNet-Lite0 inference on OpenBLAS, NHWC, batched.
///
/// 1×1 convolutions (expand, project, head) and the stem (through im2col) are single sgemm calls
/// over the whole batch; depthwise convolutions, bias and ReLU6 run in the C kernels, split over
/// threads by output rows. Buffers are allocated once for the largest batch and reused, so a
/// forward pass allocates nothing. One instance is used by one thread at a time.
public final class EfficientNetLite0 {
    public static let inputSize = 224
    public static let featureDimension = 1280
    public static let classCount = 1000

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

    private var bufferA, bufferB, bufferExpand, bufferDepthwise, bufferColumns, bufferHead: UnsafeMutablePointer<Float>

    public init(weights: ModelWeights, batchSize: Int = 8, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws(WeightsError) {
        func get(_ name: String, _ shape: [Int]) throws(WeightsError) -> [Float] {
            guard let t = weights[name] else { throw WeightsError(path: weights.model, reason: "weight file lacks \(name)") }
            guard t.shape == shape else { throw WeightsError(path: weights.model, reason: "\(name) has shape \(t.shape), expected \(shape)") }
            return t.values
        }
        guard weights.model == Architecture.modelName else {
            throw WeightsError(path: weights.model, reason: "weights are for \(weights.model), not \(Architecture.modelName)")
        }
        stem = (try get("stem.weight", [27, 32]), try get("stem.bias", [32]))
        var blocks: [BlockWeights] = []
        for b in Architecture.blocks {
            let p = "block\(b.index)."
            let expand = b.hasExpansion ? (try get(p + "expand.weight", [b.input, b.expanded]), try get(p + "expand.bias", [b.expanded])) : nil
            blocks.append(BlockWeights(
                shape: b, expand: expand,
                depthwise: (try get(p + "depthwise.weight", [b.kernel, b.kernel, b.expanded]), try get(p + "depthwise.bias", [b.expanded])),
                project: (try get(p + "project.weight", [b.expanded, b.output]), try get(p + "project.bias", [b.output]))))
        }
        self.blocks = blocks
        head = (try get("head.weight", [320, 1280]), try get("head.bias", [1280]))
        classifier = (try get("fc.weight", [1280, 1000]), try get("fc.bias", [1000]))
        self.batchSize = max(1, batchSize)
        self.threads = max(1, threads)

        // Size every buffer for the largest activation it will hold, per image.
        var h = 112, main = 112 * 112 * 32, expanded = 0, depthwise = 0
        for b in Architecture.blocks {
            expanded = max(expanded, h * h * b.expanded)
            let out = (h + b.stride - 1) / b.stride
            depthwise = max(depthwise, out * out * b.expanded)
            main = max(main, out * out * b.output)
            h = out
        }
        let n = self.batchSize
        bufferA = .allocate(capacity: n * main)
        bufferB = .allocate(capacity: n * main)
        bufferExpand = .allocate(capacity: n * expanded)
        bufferDepthwise = .allocate(capacity: n * depthwise)
        bufferColumns = .allocate(capacity: n * 112 * 112 * 27)
        bufferHead = .allocate(capacity: n * 7 * 7 * 1280)
    }

    deinit {
        for buffer in [bufferA, bufferB, bufferExpand, bufferDepthwise, bufferColumns, bufferHead] { buffer.deallocate() }
    }

    /// Runs `count` images. `input` holds them as count × 224 × 224 × 3 floats (NHWC), already
    /// normalised as (x − 127) / 128. Writes count × 1280 features (before any normalisation) and,
    /// if asked, count × 1000 ImageNet logits.
    public func run(_ input: UnsafePointer<Float>, count: Int, features: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>? = nil) {
        openblas_set_num_threads(Int32(threads))
        var done = 0
        while done < count {
            let n = min(batchSize, count - done)
            forward(input + done * 224 * 224 * 3, n, features + done * 1280, logits.map { $0 + done * 1000 })
            done += n
        }
    }

    private func forward(_ input: UnsafePointer<Float>, _ n: Int, _ features: UnsafeMutablePointer<Float>, _ logits: UnsafeMutablePointer<Float>?) {
        // Stem: 3×3 stride 2, 3 → 32, through im2col and one sgemm.
        let (stemSize, stemPad) = Self.same(224, kernel: 3, stride: 2)
        let columns = bufferColumns
        parallelRows(images: n, rows: stemSize) { image, begin, end in
            kk_im2col(input + image * 224 * 224 * 3, 224, 224, 3, 3, 2, Int32(stemPad), Int32(stemPad), Int32(stemSize), Int32(stemSize),
                      columns + image * stemSize * stemSize * 27, Int32(begin), Int32(end))
        }
        var current = bufferA, other = bufferB
        gemm(columns, rows: n * stemSize * stemSize, inner: 27, stem.weight, columns: 32, into: current)
        biasActivate(current, rows: n * stemSize * stemSize, columns: 32, bias: stem.bias, relu6: true)

        var size = stemSize
        for block in blocks {
            let b = block.shape
            var source = UnsafePointer(current)
            if let expand = block.expand {
                gemm(current, rows: n * size * size, inner: b.input, expand.weight, columns: b.expanded, into: bufferExpand)
                biasActivate(bufferExpand, rows: n * size * size, columns: b.expanded, bias: expand.bias, relu6: true)
                source = UnsafePointer(bufferExpand)
            }
            let (out, pad) = Self.same(size, kernel: b.kernel, stride: b.stride)
            let depthwise = bufferDepthwise, inSize = size
            block.depthwise.weight.withUnsafeBufferPointer { w in
                block.depthwise.bias.withUnsafeBufferPointer { bias in
                    parallelRows(images: n, rows: out) { image, begin, end in
                        kk_depthwise(source + image * inSize * inSize * b.expanded, Int32(inSize), Int32(inSize), Int32(b.expanded),
                                     w.baseAddress!, bias.baseAddress!, Int32(b.kernel), Int32(b.stride), Int32(pad), Int32(pad),
                                     depthwise + image * out * out * b.expanded, Int32(out), Int32(out), 1, Int32(begin), Int32(end))
                    }
                }
            }
            gemm(bufferDepthwise, rows: n * out * out, inner: b.expanded, block.project.weight, columns: b.output, into: other)
            biasActivate(other, rows: n * out * out, columns: b.output, bias: block.project.bias, relu6: false)
            if b.residual { kk_add(other, current, 0, n * out * out * b.output) }
            swap(&current, &other)
            size = out
        }

        gemm(current, rows: n * size * size, inner: 320, head.weight, columns: 1280, into: bufferHead)
        biasActivate(bufferHead, rows: n * size * size, columns: 1280, bias: head.bias, relu6: true)
        for image in 0..<n { kk_mean_rows(bufferHead + image * size * size * 1280, Int32(size * size), 1280, features + image * 1280) }
        if let logits {
            gemm(features, rows: n, inner: 1280, classifier.weight, columns: 1000, into: logits)
            biasActivate(logits, rows: n, columns: 1000, bias: classifier.bias, relu6: false)
        }
    }

    /// TensorFlow "SAME": output ⌈size/stride⌉, with any odd padding row at the bottom/right.
    static func same(_ size: Int, kernel: Int, stride: Int) -> (output: Int, padBefore: Int) {
        let output = (size + stride - 1) / stride
        let total = max((output - 1) * stride + kernel - size, 0)
        return (output, total / 2)
    }

    /// C (rows × columns) = A (rows × inner) · B (inner × columns), row-major.
    private func gemm(_ a: UnsafePointer<Float>, rows: Int, inner: Int, _ b: [Float], columns: Int, into c: UnsafeMutablePointer<Float>) {
        b.withUnsafeBufferPointer { bp in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(columns), Int32(inner), 1,
                        a, Int32(inner), bp.baseAddress!, Int32(columns), 0, c, Int32(columns))
        }
    }

    private func biasActivate(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: [Float], relu6: Bool) {
        bias.withUnsafeBufferPointer { bp in
            let b = bp.baseAddress!
            let chunks = min(threads * 4, rows)
            let address = UInt(bitPattern: x), biasAddress = UInt(bitPattern: b)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                kk_bias_activate(UnsafeMutablePointer<Float>(bitPattern: address)!, Int32(columns), UnsafePointer<Float>(bitPattern: biasAddress)!,
                                 relu6 ? 1 : 0, Int32(rows * chunk / chunks), Int32(rows * (chunk + 1) / chunks))
            }
        }
    }

    /// Splits `images` × `rows` output rows into contiguous ranges per image across the threads.
    private func parallelRows(images: Int, rows: Int, _ body: (Int, Int, Int) -> Void) {
        let perImage = max(1, min(rows, threads * 2 / max(1, images) + 1))
        withoutActuallyEscaping(body) { body in
            let task = UnsafeSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: images * perImage) { i in
                let image = i / perImage, part = i % perImage
                task.value(image, rows * part / perImage, rows * (part + 1) / perImage)
            }
        }
    }
}

/// Carries a closure into `concurrentPerform`. The closures passed here write only disjoint
/// ranges of buffers owned by the network for the duration of the call.
private struct UnsafeSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
