import CKindredKernels
import Dispatch
import Foundation
import KindredCore

/// EfficientNet-Lite0 inference in Kindred's C kernels (`kindred_cnn.h`), NHWC, one image at a
/// time per thread.
///
/// Each inverted-residual block runs fused, row by row (`kk_block_rows`): an input row is expanded
/// into a ring of `kernel` rows, the depthwise convolution reads the ring, and each output row is
/// projected (plus the residual) as soon as it exists, so the 6×-wider expanded activation stays
/// in L1/L2 instead of streaming through memory three times a layer. The stem and head are row
/// loops over the same 1×1 kernel. The kernels exist for AVX-512, AVX2+FMA and the baseline,
/// chosen at run time (`level`).
///
/// Threads split the images for throughput. When there are fewer images than threads (one
/// image: a `SIMILAR-IMAGE` query), every layer's output rows are shared out among the threads
/// instead (a `WorkerTeam`, whose threads spin between layers; `kk_rows`, where a thread that
/// runs out takes half of a slower one's rows), so one image's latency goes down with the cores
/// and a core another process holds does not hold the image up. Every output value is summed in
/// one fixed order whichever rows a call covers (kindred_cnn.h), so features are bit-identical
/// whatever the thread count or who computed which row. Weights and activations sit on huge pages
/// (`HugePages`). Buffers are allocated once per worker and reused, so a forward pass allocates
/// nothing. One instance is used by one caller at a time.
public final class EfficientNetLite0 {
    public static let inputSize = CNNInput.side
    public static let featureDimension = Space.cnn.dimension
    public static let classCount = CNNInput.classes
    /// The version of what the network's vectors mean (weights, preprocessing; the pooling is the
    /// caller's, `CNNPooling`): raising it re-extracts every collection's `cnn` space in the
    /// background.
    public static let producerVersion: UInt32 = 1

    typealias Architecture = EfficientNetLite0Architecture

    /// Images each thread takes from a chunk of work: callers size their decode-ahead by it
    /// (threads × batchSize images in flight); the network runs one image at a time a thread.
    public let batchSize: Int
    public let threads: Int
    /// The kernels' instruction-set level (`kk_cnn_level()`: 2 AVX-512, 1 AVX2+FMA, 0 baseline).
    public let level: Int32
    /// How the head's 7 × 7 × 1280 map becomes the features `run` writes.
    public let pooling: CNNPooling
    /// The 1×1 convolutions' arithmetic.
    public let precision: CNNPrecision
    /// Floats `run` writes an image: `pooling.dimension`.
    public var outputDimension: Int { pooling.dimension }

    private let parameters: Parameters
    private let workspaces: [Workspace]
    /// The threads one image's layers are split over (nil with one thread).
    private let team: WorkerTeam?

    /// Every weight, copied once into memory the C kernels can hold pointers to, and the blocks
    /// described for `kk_block_rows`. The blocks' and the head's 1×1 weights are held packed in
    /// panels (`kk_pointwise_pack`); the stem's and the classifier's as stored.
    final class Parameters {
        typealias Layer = (weight: UnsafePointer<Float>, bias: UnsafePointer<Float>)
        private let storage: UnsafeMutableBufferPointer<Float>
        /// The 1×1 convolutions' weights packed for `kk_pointwise_i16` (int16), or nil (fp32).
        private let packed: UnsafeMutableRawBufferPointer?
        let stem: Layer, head: Layer, classifier: Layer
        /// The head's packed weights (int16), or nil.
        let headI16: UnsafeRawPointer?
        let blocks: [kk_block]

        init(_ weights: ModelWeights, precision: CNNPrecision = .fp32) throws(WeightsError) {
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
            // The 1×1 convolutions' weights as stored (input × output), for int16's packing; the
            // kernels read them packed in panels (`kk_pointwise_pack`).
            var pointwise: [(weight: [Float], k: Int32, n: Int32)] = []
            func inPanels(_ weight: [Float], _ k: Int, _ n: Int) -> [Float] {
                pointwise.append((weight, Int32(k), Int32(n)))
                var packed = [Float](repeating: 0, count: kk_pointwise_size(Int32(k), Int32(n)))
                kk_pointwise_pack(weight, Int32(k), Int32(n), &packed)
                return packed
            }
            var tensors: [[Float]] = [try get("stem.weight", [27, 32]), try get("stem.bias", [32])]
            for b in Architecture.blocks {
                let p = "block\(b.index)."
                if b.hasExpansion {
                    tensors += [
                        inPanels(try get(p + "expand.weight", [b.input, b.expanded]), b.input, b.expanded),
                        try get(p + "expand.bias", [b.expanded]),
                    ]
                }
                let depthwise = try get(p + "depthwise.weight", [b.kernel, b.kernel, b.expanded])
                let depthwiseBias = try get(p + "depthwise.bias", [b.expanded])
                var packed = [Float](repeating: 0, count: kk_depthwise_size(Int32(b.kernel), Int32(b.expanded)))
                kk_depthwise_pack(depthwise, depthwiseBias, Int32(b.kernel), Int32(b.expanded), &packed)
                tensors += [
                    packed, inPanels(try get(p + "project.weight", [b.expanded, b.output]), b.expanded, b.output),
                    try get(p + "project.bias", [b.output]),
                ]
            }
            tensors += [
                inPanels(try get("head.weight", [320, 1280]), 320, 1280), try get("head.bias", [1280]),
                try get("fc.weight", [1280, 1000]), try get("fc.bias", [1000]),
            ]
            // Each tensor starts on a 64-byte boundary, so weight vectors never straddle lines.
            let offsets = tensors.reduce(into: [0]) { $0.append($0.last! + ($1.count + 15) / 16 * 16) }
            storage = HugePages.allocate(offsets.last!)
            storage.initialize(repeating: 0)
            for (tensor, offset) in zip(tensors, offsets) {
                _ = UnsafeMutableBufferPointer(rebasing: storage[offset..<(offset + tensor.count)]).initialize(
                    from: tensor)
            }
            var next = 0
            let base = UnsafePointer(storage.baseAddress!)
            func take() -> UnsafePointer<Float> {
                defer { next += 1 }
                return base + offsets[next]
            }
            func layer() -> Layer { (take(), take()) }
            stem = layer()
            var blocks: [kk_block] = []
            var size = 112
            for b in Architecture.blocks {
                let expand: Layer? = b.hasExpansion ? layer() : nil
                let depthwise = take(), project = layer()
                let (out, pad) = EfficientNetLite0.same(size, kernel: b.kernel, stride: b.stride)
                blocks.append(
                    kk_block(
                        h: Int32(size), w: Int32(size), input: Int32(b.input), expanded: Int32(b.expanded),
                        output: Int32(b.output), kernel: Int32(b.kernel), stride: Int32(b.stride), pad_top: Int32(pad),
                        pad_left: Int32(pad), oh: Int32(out), ow: Int32(out), expand_weight: expand?.weight,
                        expand_bias: expand?.bias, depthwise: depthwise,
                        project_weight: project.weight, project_bias: project.bias, residual: b.residual ? 1 : 0,
                        expand_i16: nil, project_i16: nil))
                size = out
            }
            head = layer()
            classifier = layer()
            guard precision == .int16 else {
                (self.blocks, packed, headI16) = (blocks, nil, nil)
                return
            }
            // Every 1×1 convolution that pays in int16 packed once, each on a 64-byte boundary, in
            // the order they were read: each block's expansion, then its projection; the head.
            let convolutions = pointwise.filter { Self.int16Pays(outputs: $0.n) }
            let sizes = convolutions.map { (kk_i16_size($0.k, $0.n) + 63) / 64 * 64 }
            let packed = UnsafeMutableRawBufferPointer.allocate(byteCount: sizes.reduce(0, +), alignment: 64)
            var at: [UnsafeRawPointer] = []
            var offset = 0
            for (c, size) in zip(convolutions, sizes) {
                kk_i16_pack(c.weight, c.k, c.n, packed.baseAddress! + offset)
                at.append(UnsafeRawPointer(packed.baseAddress! + offset))
                offset += size
            }
            var taken = at.makeIterator()
            self.blocks = blocks.map { b in
                var b = b
                if b.expand_weight != nil, Self.int16Pays(outputs: b.expanded) { b.expand_i16 = taken.next()! }
                if Self.int16Pays(outputs: b.output) { b.project_i16 = taken.next()! }
                return b
            }
            self.packed = packed
            headI16 = Self.int16Pays(outputs: Int32(EfficientNetLite0.featureDimension)) ? taken.next()! : nil
        }

        /// Whether a 1×1 convolution with `outputs` outputs runs faster in 16 bits than in fp32. Its
        /// rows are quantised whatever n is, and the narrow layers' fp32 kernel (`KK_NARROW_OUTPUTS`,
        /// the projections to 16, 24 and 40 outputs) beats that: 0.6–0.9× int16's time on those
        /// shapes (measured with the VNNI kernel; AVX2's loses there too). Every wider 1×1 of the network runs 0.93–2.6×
        /// fp32's speed in int16 with fp32's weights packed (level on the expansion from 16 inputs,
        /// 1.1–2.6× on the rest: `Benchmarks/embed/layers.sh`, same run; RESULTS.md).
        static func int16Pays(outputs: Int32) -> Bool { outputs > KK_NARROW_OUTPUTS }

        deinit {
            HugePages.deallocate(storage)
            packed?.deallocate()
        }
    }

    /// One worker's buffers, sized for the largest layer of one image, and how the rows of the
    /// layer it runs are shared out.
    final class Workspace: @unchecked Sendable {  // used by one worker at a time
        let a, b, expanded, scratch, head, meanFeatures: UnsafeMutablePointer<Float>
        let rows: OpaquePointer  // kk_rows

        init(_ blocks: [kk_block]) {
            var main = 112 * 112 * 32, expanded = 0, scratch = 112 * 27
            for var block in blocks {
                main = max(main, Int(block.oh * block.ow * block.output))
                expanded = max(expanded, Int(block.h * block.w * block.expanded))
                scratch = max(scratch, kk_block_scratch(&block))
            }
            a = HugePages.allocate(main).baseAddress!
            b = HugePages.allocate(main).baseAddress!
            self.expanded = HugePages.allocate(expanded).baseAddress!
            self.scratch = .allocate(capacity: scratch)
            head = .allocate(capacity: 7 * 7 * EfficientNetLite0.featureDimension)
            meanFeatures = .allocate(capacity: EfficientNetLite0.featureDimension)
            rows = OpaquePointer(UnsafeMutableRawPointer.allocate(byteCount: kk_rows_size(), alignment: 64))
        }

        deinit {
            for buffer in [a, b, expanded] { HugePages.deallocate(buffer) }
            for buffer in [scratch, head, meanFeatures] { buffer.deallocate() }
            UnsafeMutableRawPointer(rows).deallocate()
        }
    }

    /// The kernel levels this CPU runs, lowest first (tests run each against the others).
    public static var supportedLevels: [Int32] { (0...kk_cnn_level()).filter { kk_cnn_supports($0) != 0 } }

    /// `level` defaults to the highest this CPU runs; a level it lacks is refused. `precision` is
    /// run as asked, at any level (int16 is fast only where `CNNPrecision.isFast`; callers choose
    /// with `CNNPrecisionChoice.onThisCPU`); its kernel is the level's (`kk_pointwise_i16`).
    public init(
        weights: ModelWeights, batchSize: Int = 8, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        level: Int32 = kk_cnn_level(), pooling: CNNPooling = .mean, precision: CNNPrecision = .fp32
    ) throws(WeightsError) {
        guard kk_cnn_supports(level) != 0 else {
            throw WeightsError(path: weights.model, reason: "this CPU cannot run CNN kernel level \(level)")
        }
        parameters = try Parameters(weights, precision: precision)
        self.precision = precision
        self.batchSize = max(1, batchSize)
        self.threads = max(1, threads)
        self.level = level
        self.pooling = pooling
        workspaces = (0..<self.threads).map { [blocks = parameters.blocks] _ in Workspace(blocks) }
        // A team has at most WorkerTeam.maxParts (32) parts, within KK_ROWS_MAX_PARTS (64).
        team = self.threads > 1 ? WorkerTeam(parts: self.threads) : nil
    }

    /// Runs `count` images. `input` holds them as count × 224 × 224 × 3 floats (NHWC), already
    /// normalised as (x − 127) / 128. Writes count × `outputDimension` features (1280 with the
    /// default mean pooling; before any normalisation) and, if asked, count × 1000 ImageNet logits
    /// (always from the mean-pooled features, as the classifier was trained).
    public func run(
        _ input: UnsafePointer<Float>, count: Int, features: UnsafeMutablePointer<Float>,
        logits: UnsafeMutablePointer<Float>? = nil
    ) {
        // With logits asked for, each image's mean-pooled features are kept and the classifier
        // runs once over the batch at the end: its 5 MB of weights are read once a batch (the
        // 1×1 kernel shares each weight vector among its register block of rows), not once an
        // image. Each logit is the same chain of sums either way (kindred_cnn.h).
        let means: UnsafeMutablePointer<Float>? =
            logits == nil ? nil : .allocate(capacity: count * Self.featureDimension)
        defer { means?.deallocate() }
        if count < threads {
            // Fewer images than threads: each image's layers split over every thread.
            for image in 0..<count {
                forward(
                    input + image * CNNInput.count, features + image * outputDimension,
                    means.map { $0 + image * Self.featureDimension }, workers: workspaces[...])
            }
        } else {
            let workers = min(threads, count)
            let work = UnsafeSendableBox((input, features, means))
            let run = { (worker: Int) in
                let (input, features, means) = work.value
                for image in (count * worker / workers)..<(count * (worker + 1) / workers) {
                    self.forward(
                        input + image * CNNInput.count, features + image * self.outputDimension,
                        means.map { $0 + image * Self.featureDimension }, workers: self.workspaces[worker...worker])
                }
            }
            if workers <= 1 {
                run(0)
            } else {
                let task = UnsafeSendableBox(run)
                DispatchQueue.concurrentPerform(iterations: workers) { task.value($0) }
            }
        }
        if let logits, let means {
            let fc = parameters.classifier
            kk_pointwise(
                level, means, Int32(count), Int32(Self.featureDimension), fc.weight, Int32(Self.classCount), fc.bias, 0,
                nil, logits)
        }
    }

    /// Runs `body(part, rows)` on every part of the team (part 0 on the calling thread; one part
    /// without a team), `rows` sharing out the layer's `count` rows among them (`kk_rows`).
    private func share(_ count: Int, _ rows: OpaquePointer, parts: Int, _ body: (Int, OpaquePointer) -> Void) {
        let parts = min(parts, count, team?.parts ?? 1)
        kk_rows_init(rows, Int32(count), Int32(max(parts, 1)))
        guard parts > 1, let team else { return body(0, rows) }
        let shared = UnsafeSendableBox(rows)
        team.run { t in
            if t < parts { body(t, shared.value) }
        }
    }

    /// One image. Its activations live in the first worker's buffers; each layer's rows are shared
    /// out among the workers (`kk_rows`), each with its own scratch. Writes the pooled `features`
    /// and, when `meanOut` is given, the mean-pooled ones there too.
    private func forward(
        _ input: UnsafePointer<Float>, _ features: UnsafeMutablePointer<Float>, _ meanOut: UnsafeMutablePointer<Float>?,
        workers: ArraySlice<Workspace>
    ) {
        let space = workers[workers.startIndex], parts = workers.count, level = level, rows = space.rows
        let scratch = UnsafeSendableBox(workers.map(\.scratch))
        let stem = UnsafeSendableBox(parameters.stem)
        let (stemSize, stemPad) = Self.same(224, kernel: 3, stride: 2)
        let stemBuffers = UnsafeSendableBox((input, space.a))
        share(stemSize, rows, parts: parts) { part, rows in
            let (input, out) = stemBuffers.value, stem = stem.value
            kk_conv_shared(
                level, input, 224, 224, 3, stem.weight, stem.bias, 3, 2, Int32(stemPad), Int32(stemPad), 32, 1, out,
                Int32(stemSize), rows, Int32(part), scratch.value[part])
        }
        var current = space.a, other = space.b
        for block in parameters.blocks {
            let buffers = UnsafeSendableBox((current, other, space.expanded, block))
            // Split over threads, a fused block recomputes the kernel − 1 expanded rows each
            // range shares with its neighbour. Where that would add more than a tenth to the
            // expansion (the small late layers), the expansion runs first over all pixels, shared
            // without overlap, and the depthwise and projection read it.
            let halo = Int(block.kernel - 1) * (parts - 1)
            let expandFirst = parts > 1 && block.expand_weight != nil && halo * 10 > Int(block.h)
            if expandFirst {
                // Shared by pixels, not rows: 7 rows over 2 threads would be 3 and 4.
                share(Int(block.h * block.w), rows, parts: parts) { part, rows in
                    let (x, _, expanded, b) = buffers.value
                    kk_pointwise_shared(
                        level, rows, Int32(part), x, b.input, b.expand_weight, b.expand_i16, b.expanded, b.expand_bias,
                        1, nil, expanded)
                }
            }
            share(Int(block.oh), rows, parts: parts) { part, rows in
                var (x, y, expanded, b) = buffers.value
                kk_block_shared(level, &b, x, expandFirst ? expanded : nil, y, rows, Int32(part), scratch.value[part])
            }
            swap(&current, &other)
        }

        let size = Int(parameters.blocks.last!.oh)
        let head = UnsafeSendableBox((layer: parameters.head, i16: parameters.headI16, x: current, out: space.head))
        share(size * size, rows, parts: parts) { part, rows in
            let h = head.value
            kk_pointwise_shared(
                level, rows, Int32(part), h.x, 320, h.layer.weight, h.i16, Int32(Self.featureDimension), h.layer.bias,
                1,
                nil, h.out)
        }
        // The mean-pooled features: the caller's (for the classifier) or this worker's own.
        let mean = meanOut ?? space.meanFeatures
        kk_mean_rows(space.head, Int32(size * size), Int32(Self.featureDimension), mean)
        pooling.pool(map: space.head, side: size, mean: mean, into: features)
    }

    /// TensorFlow "SAME": output ⌈size/stride⌉, with any odd padding row at the bottom/right.
    static func same(_ size: Int, kernel: Int, stride: Int) -> (output: Int, padBefore: Int) {
        let output = (size + stride - 1) / stride
        let total = max((output - 1) * stride + kernel - size, 0)
        return (output, total / 2)
    }
}
