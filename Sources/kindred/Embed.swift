import ArgumentParser
import Foundation
import KindredCore
import KindredFeatures

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Compute EfficientNet-Lite0 embeddings.",
        discussion: "With --tensor, feeds a preprocessed N×3×224×224 (nchw) or N×224×224×3 (nhwc) float32 tensor, already (x − 127) / 128, straight into the CNN: the oracle check. Writes N × 1280 features before normalisation."
    )

    enum Layout: String, ExpressibleByArgument { case nchw, nhwc }

    @OptionGroup var state: StateOptions
    @Option(help: "A preprocessed input tensor (.npy).", completion: .file(extensions: ["npy"])) var tensor: String
    @Option(help: "nchw or nhwc.") var layout: Layout = .nchw
    @Option(help: "Where to write the N × 1280 features.") var out: String
    @Option(name: .customLong("logits-out"), help: "Also write the N × 1000 ImageNet logits.") var logitsOut: String?
    @Option(help: "Threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .customLong("batch"), help: "Images per forward pass.") var batchSize = 8

    func run() throws {
        let network = try EfficientNetLite0(weights: try ModelFiles.load(from: state.paths), batchSize: batchSize, threads: threads)
        let input = try Npy.read(URL(fileURLWithPath: tensor), as: Float.self)
        let expected = layout == .nchw ? [3, 224, 224] : [224, 224, 3]
        guard input.shape.count == 4, Array(input.shape[1...]) == expected else {
            throw ValidationError("\(tensor) has shape \(input.shape); --layout \(layout.rawValue) needs N × \(expected.map(String.init).joined(separator: " × "))")
        }
        let n = input.shape[0]
        let nhwc = layout == .nhwc ? input.values : Self.toNHWC(input.values, count: n)
        var features = [Float](repeating: 0, count: n * 1280)
        var logits = [Float](repeating: 0, count: n * 1000)
        let start = ContinuousClock.now
        nhwc.withUnsafeBufferPointer { x in
            features.withUnsafeMutableBufferPointer { f in
                logits.withUnsafeMutableBufferPointer { l in
                    network.run(x.baseAddress!, count: n, features: f.baseAddress!, logits: logitsOut == nil ? nil : l.baseAddress!)
                }
            }
        }
        let seconds = elapsed(since: start)
        try Npy.write(NpyArray(shape: [n, 1280], values: features), to: URL(fileURLWithPath: out))
        if let logitsOut { try Npy.write(NpyArray(shape: [n, 1000], values: logits), to: URL(fileURLWithPath: logitsOut)) }
        printJSONLine(["images": n, "threads": threads, "batch": batchSize, "cnn_s": seconds, "images_per_s": (Double(n) / max(seconds, 1e-9) * 10).rounded() / 10])
    }

    static func toNHWC(_ nchw: [Float], count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: nchw.count)
        let plane = 224 * 224
        for n in 0..<count { for c in 0..<3 { for p in 0..<plane { out[(n * plane + p) * 3 + c] = nchw[(n * 3 + c) * plane + p] } } }
        return out
    }
}
