import ArgumentParser
import Foundation
import KindredCore
import KindredFeatures
import KindredProtocol

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each image's ImageNet top-5 classes with probabilities.",
        discussion: "Classes are ImageNet-1k indices (0–999); the weights ship without class names."
    )

    @OptionGroup var state: StateOptions
    @Argument(help: "Image files.", completion: .file()) var files: [String]
    @Option(help: "Threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        let network = try EfficientNetLite0(
            weights: try ModelFiles.load(from: state.paths), batchSize: 4, threads: threads)
        let result = ImagePipeline(network: network, threads: threads).run(files, logits: true)
        for (i, path) in result.paths.enumerated() {
            let logits = result.logits[(i * 1000)..<((i + 1) * 1000)]
            let top = logits.max()!
            let exps = logits.map { Foundation.exp(Double($0 - top)) }
            let sum = exps.reduce(0, +)
            let best = exps.indices.sorted { exps[$0] > exps[$1] }.prefix(5)
            print(
                ResponseEncoder.escape(path) + "\t"
                    + best.map { "\($0 - exps.startIndex):\((exps[$0] / sum).fixed(3))" }.joined(
                        separator: "\t"))
        }
        ImagePipeline.report(failures: result.failures)
        if !result.failures.isEmpty { throw ExitCode(1) }
    }
}
