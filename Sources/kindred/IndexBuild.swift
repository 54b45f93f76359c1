import ArgumentParser
import Foundation
import KindredCore
import KindredIndex

struct IndexBuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an HNSW index over the rows of a float32 .npy file; row i gets label i.",
        discussion: "Prints one JSON line with build_s (insertion only, excluding reading and saving)."
    )

    @OptionGroup var logging: LoggingOptions
    @Option(help: "An n × d float32 .npy file.", completion: .file(extensions: ["npy"])) var vectors: String
    @Option(help: "Where to write the index.") var out: String
    @Option(help: "cosine or l2.") var metric: Metric = .cosine
    @Option(name: .customLong("M"), help: "Links per node (M in the paper); layer 0 keeps 2·M.") var connectivity = 16
    @Option(name: .customLong("ef-construction"), help: "Candidate-list size while linking (efConstruction).")
    var efConstruction = 200
    @Option(help: "Insertion threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Seed for node levels.") var seed: UInt64 = 1
    @Option(
        help:
            "How the graph walk holds vectors: float32 (exact), float16, int8 or int4 (compact codes; search re-ranks with --exact)."
    )
    var encoding: VectorEncoding = .float32

    func run() throws {
        let logger = logging.logger("kindred.index")
        let readStart = ContinuousClock.now
        let matrix = try Npy.readMatrix(URL(fileURLWithPath: vectors))
        let readSeconds = elapsed(since: readStart)
        let parameters = HNSWParameters(connectivity: connectivity, efConstruction: efConstruction, seed: seed)
        let buildStart = ContinuousClock.now
        let index = try HNSWIndex.build(
            matrix, metric: metric, parameters: parameters, encoding: encoding, threads: threads, logger: logger)
        let buildSeconds = elapsed(since: buildStart)
        let saveStart = ContinuousClock.now
        try index.save(to: URL(fileURLWithPath: out))
        printJSONLine([
            "n": matrix.rows, "d": matrix.columns, "metric": metric.rawValue, "M": connectivity,
            "ef_construction": efConstruction, "encoding": encoding.rawValue,
            "threads": threads, "kernels": distanceKernelISA, "read_s": readSeconds, "build_s": buildSeconds,
            "save_s": elapsed(since: saveStart),
        ])
    }
}

extension VectorEncoding: ExpressibleByArgument {}
