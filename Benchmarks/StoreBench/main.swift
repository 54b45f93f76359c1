// Vector-store throughput: bulk write and bulk read of n × d float32 vectors through
// KindredStore, beside a plain sequential read of the same bytes from a file.
//
// usage: kindred-bench-store [--n 100000] [--d 1280] [--dir DIR] [--batch 1000]
// Prints one JSON line per measurement. Reads are from the page cache for both, which is the
// fair comparison: LMDB's own cost, not the disk's.
import Foundation
import KindredCore
import KindredStore
import Logging

func argument(_ name: String, _ fallback: String) -> String {
    let arguments = CommandLine.arguments
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return fallback }
    return arguments[i + 1]
}
let n = Int(argument("--n", "100000"))!
let d = Int(argument("--d", "1280"))!
let batch = Int(argument("--batch", "1000"))!
let directory = URL(fileURLWithPath: argument("--dir", NSTemporaryDirectory() + "kindred-bench-store-\(getpid())"))
try? FileManager.default.removeItem(at: directory)
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
let megabytes = Double(n * d * 4) / 1e6

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let t = ContinuousClock.now - start
    return t.seconds
}
func report(_ what: String, _ s: Double) {
    print(
        String(
            format: #"{"what": "%@", "n": %d, "d": %d, "seconds": %.3f, "mb_per_s": %.0f}"#, what, n, d, s,
            megabytes / s))
}

var generator = SystemRandomNumberGenerator()
let data = (0..<(n * d)).map { _ in Float.random(in: -1...1, using: &generator) }

let store = try VectorStore(
    directory: directory.appendingPathComponent("vectors"), spaces: [VectorSpace(name: "cnn", dimension: d)],
    logger: Logger(label: "bench"))
report(
    "lmdb bulk write (\(batch)/txn, durable commits)",
    try seconds {
        try data.withUnsafeBufferPointer { all in
            for first in stride(from: 0, to: n, by: batch) {
                try store.write { txn throws(VectorStoreError) in
                    for row in first..<min(n, first + batch) {
                        try txn.put(
                            ItemID(UInt64(row + 1)), UnsafeBufferPointer(rebasing: all[(row * d)..<((row + 1) * d)]),
                            space: "cnn")
                    }
                }
            }
        }
    })
for round in 1...3 {
    var rows = 0
    report(
        "lmdb bulk read into one buffer (round \(round))",
        try seconds { rows = try store.readMatrix(space: "cnn").matrix.rows })
    precondition(rows == n)
}

let file = directory.appendingPathComponent("raw.f32").path
report(
    "file write + fsync",
    seconds {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count { done += write(fd, raw.baseAddress! + done, min(1 << 24, raw.count - done)) }
        }
        fsync(fd)
        close(fd)
    })
for round in 1...3 {
    report(
        "file sequential read (round \(round))",
        seconds {
            var buffer = [Float](repeating: 0, count: n * d)
            let fd = open(file, O_RDONLY)
            buffer.withUnsafeMutableBytes { raw in
                var done = 0
                while done < raw.count { done += read(fd, raw.baseAddress! + done, min(1 << 24, raw.count - done)) }
            }
            close(fd)
            precondition(buffer.count == n * d)
        })
}
try? FileManager.default.removeItem(at: directory)
