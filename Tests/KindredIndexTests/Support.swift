import Foundation
import KindredCore
import KindredIndex
import Logging

let testLogger = Logger(label: "kindred.index.tests")

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func temporaryDirectory(_ label: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kindred-\(label)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Clustered vectors: `clusters` Gaussian blobs, deterministic for a seed.
func clusteredVectors(n: Int, d: Int, clusters: Int = 40, spread: Float = 0.35, seed: UInt64 = 42) -> Matrix {
    var rng = SplitMix(seed: seed)
    let centres = (0..<(clusters * d)).map { _ in rng.normal() }
    var storage = [Float](repeating: 0, count: n * d)
    for i in 0..<n {
        let c = Int(rng.next() % UInt64(clusters))
        for j in 0..<d { storage[i * d + j] = centres[c * d + j] + spread * rng.normal() }
    }
    return Matrix(rows: n, columns: d, storage: storage)
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    mutating func normal() -> Float {
        let u = max(uniform(), 1e-7), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

/// recall@k of `found` against `truth`, both lists of labels per query.
func recall(_ found: [[UInt64]], _ truth: [[UInt64]], k: Int) -> Double {
    var hits = 0
    for (f, t) in zip(found, truth) { hits += Set(f.prefix(k)).intersection(t.prefix(k)).count }
    return Double(hits) / Double(k * truth.count)
}

/// The referee's vector set (../shared/bench/vectors.py), generated once and cached.
func refereeVectors(n: Int, d: Int, queries: Int) throws -> (base: Matrix, queries: Matrix, truth: [[UInt64]]) {
    let script = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/bench/vectors.py")
    guard FileManager.default.fileExists(atPath: script.path) else {
        throw TestSetupError("the referee's vectors.py is not at \(script.path); these tests need ../shared beside the checkout")
    }
    let cache = URL(fileURLWithPath: ProcessInfo.processInfo.environment["KINDRED_CACHE"]
        ?? (NSHomeDirectory() + "/.cache/kindred")).appendingPathComponent("test-vectors/\(n)x\(d)q\(queries)")
    if !FileManager.default.fileExists(atPath: cache.appendingPathComponent("truth.npy").path) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, cache.path, "--n", "\(n)", "--d", "\(d)", "--q", "\(queries)"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSetupError("vectors.py failed (exit \(process.terminationStatus)); it needs python3 with numpy") }
    }
    let truth = try Npy.read(cache.appendingPathComponent("truth.npy"), as: Int32.self)
    let width = truth.shape[1]
    return (try Npy.readMatrix(cache.appendingPathComponent("base.npy")), try Npy.readMatrix(cache.appendingPathComponent("queries.npy")),
            (0..<truth.shape[0]).map { q in truth.values[(q * width)..<((q + 1) * width)].map { UInt64($0) } })
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
