// Fills a state directory with n synthetic items, for daemon benchmarks at a scale no image
// collection here reaches: catalog rows (paths /synthetic/NNNNNNN.jpg) and vectors in every
// standard space, written in the commit order of Schema/lmdb.md (rows queued, then the vectors,
// then the rows marked indexed). CNN vectors come from a float32 .npy (n × 1280, e.g. from
// Benchmarks/ann/vectors_chunked.py); style vectors, hashes and 32 × 32 thumbnails are derived
// from them, so items are complete (every space a real item has, at its real size) and kindredd
// serves them as it would real ones.
//
// usage: kindred-bench-preload --state DIR --in X.npy [--batch 2000]
import Foundation
import KindredCore
import KindredEngine
import KindredStore
import Logging

func argument(_ name: String, _ fallback: String?) -> String {
    let arguments = CommandLine.arguments
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else {
        guard let fallback else { fatalError("usage: kindred-bench-preload --state DIR --in X.npy [--batch 2000]") }
        return fallback
    }
    return arguments[i + 1]
}

let logger = Logger(label: "kindred.bench.preload")
let paths = StatePaths(root: URL(fileURLWithPath: argument("--state", nil)))
let batch = Int(argument("--batch", "2000"))!
let vectors = try Npy.readMatrix(URL(fileURLWithPath: argument("--in", nil)))
precondition(vectors.columns == StandardSpaces.cnn.dimension, "the CNN space is \(StandardSpaces.cnn.dimension)-d")
let lock = try StateLock.acquire(paths, holder: "kindred-bench-preload")  // one writer per state
let state = try StateStore(paths: paths, spaces: StandardSpaces.all, logger: logger)
// The items' root. It does not exist, so kindredd keeps it paused ("gone") and its items with it;
// without a root, kindredd's start would remove them as the items of an unwatched root.
try state.catalog.addRoot(try CollectionPath("/synthetic"))
let start = ContinuousClock.now
for first in stride(from: 0, to: vectors.rows, by: batch) {
    let rows = first..<min(vectors.rows, first + batch)
    let files = rows.map { Catalog.SeenFile(path: String(format: "/synthetic/%07d.jpg", $0), size: 1, mtimeNs: 1) }
    try state.importItems(files, contentHash: "synthetic") { offset in
        let cnn = vectors.row(rows.lowerBound + offset)
        let phash = (0..<8).map { byte in
            UInt8(truncatingIfNeeded: (0..<8).reduce(0) { $0 << 1 | (cnn[byte * 8 + $1] > 0 ? 1 : 0) })
        }
        // A thumbnail whose colours follow the vector, so nearby items look alike on the map.
        let thumb = (0..<Space.thumb.dimension).map { i in
            UInt8(clamping: Int(128 + 2000 * cnn[(i * 7) % cnn.count]))
        }
        return [
            (StandardSpaces.cnn.name, .floats(cnn)),
            (StandardSpaces.style.name, .floats(Array(cnn.prefix(StandardSpaces.style.dimension)))),
            (StandardSpaces.phash.name, .bytes(phash)),
            (StandardSpaces.thumb.name, .bytes(thumb)),
        ]
    }
}
let t = ContinuousClock.now - start
print("{\"items\":\(vectors.rows),\"s\":\(t.seconds)}")

withExtendedLifetime(lock) {}  // held to the end
