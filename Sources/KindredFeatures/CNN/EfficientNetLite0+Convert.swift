import Foundation
import KindredCore

/// EfficientNet-Lite0's shape (Tan & Le 2019, the "lite" variant: no squeeze-excite, ReLU6).
enum EfficientNetLite0Architecture {
    /// (repeats, kernel, stride, expand ratio, in channels, out channels) per group.
    static let groups: [(repeats: Int, kernel: Int, stride: Int, expand: Int, input: Int, output: Int)] = [
        (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
        (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
    ]

    struct Block {
        let index: Int, kernel: Int, stride: Int, input: Int, expanded: Int, output: Int
        var residual: Bool { stride == 1 && input == output }
        var hasExpansion: Bool { expanded != input }
    }

    /// The 16 blocks; within a group the stride applies to the first repeat only.
    static let blocks: [Block] = {
        var blocks: [Block] = []
        for group in groups {
            for r in 0..<group.repeats {
                let input = r == 0 ? group.input : group.output
                blocks.append(
                    Block(
                        index: blocks.count, kernel: group.kernel, stride: r == 0 ? group.stride : 1,
                        input: input, expanded: input * group.expand, output: group.output))
            }
        }
        return blocks
    }()

    static let stemChannels = 32, headChannels = Space.cnn.dimension, classes = CNNInput.classes
    static let batchNormEpsilon: Float = 1e-3
    static let modelName = "efficientnet-lite0"
}

extension EfficientNetLite0 {
    /// Converts the checkpoint's tensors to Kindred's: each convolution's batch norm folded into
    /// its weights and bias (W' = W·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε)), and each weight laid out the
    /// way inference reads it (NHWC: 1×1 as cin×cout for sgemm, depthwise as k×k×c, the stem as
    /// ky×kx×cin×cout for im2col).
    public static func convert(checkpoint url: URL) throws(WeightsError) -> ModelWeights {
        let source = try TorchCheckpoint.read(url)
        func tensor(_ name: String, _ shape: [Int]) throws(WeightsError) -> [Float] {
            guard let t = source[name] else {
                throw WeightsError(path: url.path, reason: "the checkpoint has no \(name); is it EfficientNet-Lite0?")
            }
            guard t.shape == shape else {
                throw WeightsError(path: url.path, reason: "\(name) has shape \(t.shape), expected \(shape)")
            }
            return t.values
        }
        /// The folded weights as [cout][rest] and the bias.
        func folded(
            _ conv: String, _ bn: String, _ shape: [Int]
        ) throws(WeightsError) -> (weights: [Float], bias: [Float]) {
            let w = try tensor(conv, shape)
            let cout = shape[0]
            let gamma = try tensor(bn + ".weight", [cout]), beta = try tensor(bn + ".bias", [cout])
            let mean = try tensor(bn + ".running_mean", [cout]), variance = try tensor(bn + ".running_var", [cout])
            let per = w.count / cout
            var weights = w
            var bias = [Float](repeating: 0, count: cout)
            for o in 0..<cout {
                let scale = gamma[o] / (variance[o] + EfficientNetLite0Architecture.batchNormEpsilon).squareRoot()
                for i in 0..<per { weights[o * per + i] *= scale }
                bias[o] = beta[o] - mean[o] * scale
            }
            return (weights, bias)
        }
        /// [cout][cin] → [cin][cout].
        func transposed(_ w: [Float], rows: Int, columns: Int) -> [Float] {
            var out = [Float](repeating: 0, count: w.count)
            for r in 0..<rows { for c in 0..<columns { out[c * rows + r] = w[r * columns + c] } }
            return out
        }
        var tensors: [(String, WeightTensor)] = []
        func add(_ name: String, _ shape: [Int], _ values: [Float]) {
            tensors.append((name, WeightTensor(shape: shape, values: values)))
        }

        let stem = try folded("_conv_stem.weight", "_bn0", [32, 3, 3, 3])
        var stemWeights = [Float](repeating: 0, count: 27 * 32)  // [ky][kx][cin][cout]
        for o in 0..<32 {
            for c in 0..<3 {
                for y in 0..<3 {
                    for x in 0..<3 {
                        stemWeights[((y * 3 + x) * 3 + c) * 32 + o] = stem.weights[((o * 3 + c) * 3 + y) * 3 + x]
                    }
                }
            }
        }
        add("stem.weight", [27, 32], stemWeights)
        add("stem.bias", [32], stem.bias)

        for block in EfficientNetLite0Architecture.blocks {
            let p = "_blocks.\(block.index)."
            if block.hasExpansion {
                let e = try folded(p + "_expand_conv.weight", p + "_bn0", [block.expanded, block.input, 1, 1])
                add(
                    "block\(block.index).expand.weight", [block.input, block.expanded],
                    transposed(e.weights, rows: block.expanded, columns: block.input))
                add("block\(block.index).expand.bias", [block.expanded], e.bias)
            }
            let k = block.kernel
            let d = try folded(p + "_depthwise_conv.weight", p + "_bn1", [block.expanded, 1, k, k])
            var depthwise = [Float](repeating: 0, count: k * k * block.expanded)  // [ky][kx][c]
            for c in 0..<block.expanded {
                for i in 0..<(k * k) { depthwise[i * block.expanded + c] = d.weights[c * k * k + i] }
            }
            add("block\(block.index).depthwise.weight", [k, k, block.expanded], depthwise)
            add("block\(block.index).depthwise.bias", [block.expanded], d.bias)
            let j = try folded(p + "_project_conv.weight", p + "_bn2", [block.output, block.expanded, 1, 1])
            add(
                "block\(block.index).project.weight", [block.expanded, block.output],
                transposed(j.weights, rows: block.output, columns: block.expanded))
            add("block\(block.index).project.bias", [block.output], j.bias)
        }
        let head = try folded("_conv_head.weight", "_bn1", [1280, 320, 1, 1])
        add("head.weight", [320, 1280], transposed(head.weights, rows: 1280, columns: 320))
        add("head.bias", [1280], head.bias)
        add("fc.weight", [1280, 1000], transposed(try tensor("_fc.weight", [1000, 1280]), rows: 1000, columns: 1280))
        add("fc.bias", [1000], try tensor("_fc.bias", [1000]))
        return ModelWeights(model: EfficientNetLite0Architecture.modelName, tensors: tensors)
    }
}
