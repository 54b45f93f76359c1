import ArgumentParser
import Foundation
import KindredCore
import KindredEngine
import KindredFeatures
import KindredImaging

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Compute image vectors: EfficientNet-Lite0 embeddings, style descriptors or perceptual hashes.",
        discussion: """
            --space cnn (default) writes L2-normalised 1280-d float32 embeddings; style, 142-d float32 \
            descriptors; phash, 64-bit perceptual hashes as N × 8 uint8. Recurses into directories (hidden files skipped). Row i of FEATS is line i of PATHS. A file that cannot be \
            read prints `path<TAB>reason` on stderr and the run continues; the exit status is 1 if any failed. \
            With --tensor, feeds a preprocessed N×3×224×224 (nchw) or N×224×224×3 (nhwc) float32 tensor, already \
            (x − 127) / 128, straight into the CNN and writes its raw (unnormalised) features: the oracle check.
            """
    )

    enum Layout: String, ExpressibleByArgument { case nchw, nhwc }
    enum Pooling: String, ExpressibleByArgument {
        case mean, rms, map
        var network: CNNPooling {
            switch self {
            case .mean: .mean
            case .rms: .rootMeanSquare
            case .map: .featureMap
            }
        }
    }

    @OptionGroup var state: StateOptions
    @Option(help: "cnn, style or phash.") var space: Space = .cnn
    @Argument(help: "Image files and directories.", completion: .file()) var inputs: [String] = []
    @Option(help: "Where to write the features (.npy).") var out: String
    @Option(name: .customLong("paths-out"), help: "Where to write the paths, one per line.") var pathsOut: String?
    @Option(help: "A preprocessed input tensor (.npy) instead of image files.", completion: .file(extensions: ["npy"]))
    var tensor: String?
    @Option(help: "Layout of --tensor: nchw or nhwc.") var layout: Layout = .nchw
    @Option(name: .customLong("logits-out"), help: "With --tensor, also write the N × 1000 ImageNet logits.")
    var logitsOut: String?
    @Option(help: "How the CNN sees the picture: crop (the reference's centre crop) or pad (the whole picture).")
    var fit: Framing.Fit = .centreCrop
    @Flag(help: "Cut away uniform borders before describing.") var trim = false
    @Option(help: "With --fit pad, the share of each side left as padding (0 to 0.25).") var margin = 0.0
    @Flag(help: "Describe each picture mirrored left to right.") var mirror = false
    @Option(
        help:
            "With --space cnn: mean (the reference's pooling), rms (generalised mean, p = 2: what kindredd stores) or map (the whole 7 × 7 × 1280 map, unnormalised, to study poolings)."
    )
    var pool: Pooling = .mean
    @Flag(
        name: .customLong("like-daemon"),
        help:
            "Frame and pool pictures as kindredd does for its cnn, style and phash spaces (borders trimmed, the whole picture, the root mean square), whatever --fit, --trim, --margin and --pool say: vectors for `kindred store import`."
    )
    var likeDaemon = false
    @Flag(
        name: .customLong("as-stored"),
        help:
            "Take pixels as stored, without converting from an embedded ICC profile or CMYK's default profile (to measure what colour management changes)."
    )
    var asStored = false
    @Flag(
        name: .customLong("every-path"),
        help:
            "Describe every path, even one naming a file already described (a symbolic or hard link to it); by default each file is described once and its row repeated for its other paths."
    )
    var everyPath = false
    @Option(help: "Threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .customLong("batch"), help: "Images per forward pass and thread.") var batchSize = 8
    @Option(
        help:
            "The CNN’s 1×1 convolutions in fp32 or int16 (int16 needs AVX2 or AVX-512 VNNI to be fast; default: fp32, or with --like-daemon what kindredd runs on this CPU)."
    )
    var precision: CNNPrecision?
    @Flag(
        name: .customLong("one-at-a-time"),
        help:
            "With --tensor, run each image alone (as a SIMILAR-IMAGE query does, its layers split over the threads) and report the latency."
    )
    var oneAtATime = false

    /// The framing and pooling pictures are described with: kindredd's with --like-daemon.
    var framing: Framing { likeDaemon ? StandardSpaces.framing : Framing(fit: fit, trimBorders: trim, margin: margin) }
    var pooling: CNNPooling { likeDaemon ? StandardSpaces.pooling : pool.network }
    /// The CNN's arithmetic: as asked, else kindredd's with --like-daemon, else the reference's.
    var arithmetic: CNNPrecision { precision ?? (likeDaemon ? StandardSpaces.precision.onThisCPU.precision : .fp32) }

    func validate() throws {
        guard space != .thumb else { throw ValidationError("--space is cnn, style or phash") }
        guard (tensor == nil) != inputs.isEmpty else {
            throw ValidationError("give image files or directories, or --tensor, not both")
        }
        guard !likeDaemon || tensor == nil else { throw ValidationError("--like-daemon describes image files") }
        guard pool == .mean || (space == .cnn && tensor == nil) else {
            throw ValidationError("--pool \(pool.rawValue) describes image files in the cnn space")
        }
        guard threads >= 1, batchSize >= 1 else { throw ValidationError("--threads and --batch must be at least 1") }
    }

    func run() throws {
        if let tensor {
            let network = try EfficientNetLite0(
                weights: try ModelFiles.load(from: state.paths), batchSize: batchSize, threads: threads,
                precision: arithmetic)
            return try runTensor(tensor, network)
        }
        let (files, missing) = ImagePipeline.collect(inputs)
        // The unpooled map is 245 KB an image, all held until the .npy is written.
        guard pooling != .featureMap || files.count <= Self.maxMapImages else {
            throw ValidationError(
                "--pool map holds 245 KB an image in memory: at most \(Self.maxMapImages) files, not \(files.count)")
        }
        ImagePipeline.report(failures: missing.map { ($0, "no such file or directory") })
        let showProgress = isatty(STDERR_FILENO) == 1
        let start = ContinuousClock.now
        let network =
            space == .cnn
            ? try EfficientNetLite0(
                weights: try ModelFiles.load(from: state.paths), batchSize: batchSize, threads: threads,
                pooling: pooling, precision: arithmetic) : nil
        let (result, described) =
            everyPath
            ? (describe(files, network: network, showProgress: showProgress), files.count)
            : ImagePipeline.onceAFile(files) { describe($0, network: network, showProgress: showProgress) }
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        let seconds = elapsed(since: start)
        ImagePipeline.report(failures: result.failures)

        var features = result.features
        let d = space == .cnn ? pooling.dimension : space.dimension
        switch space {
        case .phash, .thumb:
            try Npy.write(
                NpyArray(shape: [result.paths.count, d], values: features.map { UInt8($0) }),
                to: URL(fileURLWithPath: out))
        case .cnn, .style:
            if space == .cnn && pooling != .featureMap && !features.isEmpty { normalizeRows(&features, dimension: d) }
            try Npy.write(NpyArray(shape: [result.paths.count, d], values: features), to: URL(fileURLWithPath: out))
        }
        if let pathsOut {
            try (result.paths.joined(separator: "\n") + (result.paths.isEmpty ? "" : "\n")).write(
                toFile: pathsOut, atomically: true, encoding: .utf8)
        }
        var line: [String: Any] = [
            "space": space.rawValue, "images": result.paths.count, "failed": result.failures.count + missing.count,
            "threads": threads, "wall_s": seconds,
            "images_per_s": (Double(result.paths.count) / max(seconds, 1e-9) * 10).rounded() / 10,
            "files_described": described,
        ]
        if space == .cnn {
            // Seconds by stage (thread-seconds summed over the decode workers; the network's and
            // its wait for decoded files on the consuming thread), as `<stage>_s`.
            let stages = result.stages.rounded.filter { ImagePipeline.stagesRun.contains($0.stage) }
            line["stages"] = Dictionary(uniqueKeysWithValues: stages.map { ($0.stage.rawValue + "_s", $0.seconds) })
        }
        printJSONLine(line)
        if !result.failures.isEmpty || !missing.isEmpty { throw ExitCode(1) }
    }

    /// `files` through the network (the cnn space), or the descriptor `space` names.
    private func describe(_ files: [String], network: EfficientNetLite0?, showProgress: Bool) -> ImagePipeline.Result {
        if let network {
            var pipeline = ImagePipeline(
                network: network, threads: threads, framing: framing, mirror: mirror)
            pipeline.options.managesColour = !asStored
            return pipeline.run(files) { done, total in
                if showProgress { FileHandle.standardError.write(Data("\r\(Self.bar(done, total))".utf8)) }
            }
        } else {
            var options = DecodeOptions()
            options.managesColour = !asStored
            return ImagePipeline.describe(
                files, space: space, framing: framing, mirror: mirror,
                options: options, threads: threads)
        }
    }

    /// Images `--pool map` describes in one run: 20,000 maps are 4.9 GB.
    static let maxMapImages = 20_000

    static func bar(_ done: Int, _ total: Int) -> String {
        let width = 30, filled = total == 0 ? width : width * done / total
        return "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
            + "] \(done)/\(total)"
    }

    private func runTensor(_ tensor: String, _ network: EfficientNetLite0) throws {
        let input = try Npy.read(URL(fileURLWithPath: tensor), as: Float.self)
        let expected = layout == .nchw ? [3, 224, 224] : [224, 224, 3]
        guard input.shape.count == 4, Array(input.shape[1...]) == expected else {
            throw ValidationError(
                "\(tensor) has shape \(input.shape); --layout \(layout.rawValue) needs N × \(expected.map(String.init).joined(separator: " × "))"
            )
        }
        let n = input.shape[0]
        let nhwc = layout == .nhwc ? input.values : Self.toNHWC(input.values, count: n)
        var features = [Float](repeating: 0, count: n * Space.cnn.dimension)
        var logits = [Float](repeating: 0, count: n * 1000)
        // One untimed batch first (one image with --one-at-a-time), as the speed peer
        // (`cnn_oracle.py bench`) runs one: the first pass touches every worker's buffers, which
        // a daemon pays once. Its features are computed again below.
        let warmUp = min(n, oneAtATime ? 1 : batchSize)
        nhwc.withUnsafeBufferPointer { x in
            features.withUnsafeMutableBufferPointer { f in
                if warmUp > 0 { network.run(x.baseAddress!, count: warmUp, features: f.baseAddress!) }
            }
        }
        let start = ContinuousClock.now
        var latencies: [Double] = []
        nhwc.withUnsafeBufferPointer { x in
            features.withUnsafeMutableBufferPointer { f in
                logits.withUnsafeMutableBufferPointer { l in
                    guard oneAtATime else {
                        return network.run(
                            x.baseAddress!, count: n, features: f.baseAddress!,
                            logits: logitsOut == nil ? nil : l.baseAddress!)
                    }
                    for i in 0..<n {
                        let begun = ContinuousClock.now
                        network.run(
                            x.baseAddress! + i * CNNInput.count, count: 1,
                            features: f.baseAddress! + i * Space.cnn.dimension,
                            logits: logitsOut == nil ? nil : l.baseAddress! + i * 1000)
                        latencies.append(elapsed(since: begun) * 1000)
                    }
                }
            }
        }
        let seconds = elapsed(since: start)
        try Npy.write(NpyArray(shape: [n, Space.cnn.dimension], values: features), to: URL(fileURLWithPath: out))
        if let logitsOut {
            try Npy.write(NpyArray(shape: [n, 1000], values: logits), to: URL(fileURLWithPath: logitsOut))
        }
        var line: [String: Any] = [
            "images": n, "threads": threads, "batch": oneAtATime ? 1 : batchSize, "cnn_s": seconds,
            "images_per_s": (Double(n) / max(seconds, 1e-9) * 10).rounded() / 10,
        ]
        if oneAtATime {
            let sorted = latencies.sorted()
            line["latency_ms_mean"] = (latencies.reduce(0, +) / Double(max(1, n)) * 100).rounded() / 100
            line["latency_ms_p50"] = ((sorted.isEmpty ? 0 : sorted[sorted.count / 2]) * 100).rounded() / 100
        }
        printJSONLine(line)
    }

    static func toNHWC(_ nchw: [Float], count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: nchw.count)
        let plane = 224 * 224
        for n in 0..<count {
            for c in 0..<3 { for p in 0..<plane { out[(n * plane + p) * 3 + c] = nchw[(n * 3 + c) * plane + p] } }
        }
        return out
    }
}
