import Foundation
import FuzzSupport
import KindredAnalysis
import KindredCore
import KindredEngine

/// A saved placement model (Schema/placement.md), loaded as kindredd loads the current run's after
/// a restart, then used as kindredd uses it: items placed with it. The input is the model's files
/// one after another, split at `separator` and taken in `files`' order (a missing part is a
/// missing file), so mutations reach meta.json's values, the .npy headers and the numbers behind
/// them. A model that loads must place items without trapping, at finite coordinates, in a
/// cluster the run has (or none).
@_cdecl("fuzz_placement_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzPlacement(data!, size) }
}

let separator = Array("\n--file--\n".utf8)
let files = [
    "meta.json", "ids.npy", "map2.npy", "map3.npy", "layout.npy", "core.npy", "tree.npy", "lambda.npy",
    "pca-mean.npy", "pca-components.npy", "centroids.npy",
]
/// A state directory of this process's own, in memory where there is /dev/shm.
let state: StatePaths = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let root = URL(fileURLWithPath: base).appendingPathComponent("kindred-fuzz-placement-\(getpid())")
    try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    return StatePaths(root: root)
}()

/// The parts of `bytes` between separators.
func parts(_ bytes: [UInt8]) -> [[UInt8]] {
    var parts: [[UInt8]] = [], start = 0, at = 0
    while at + separator.count <= bytes.count {
        if bytes[at..<(at + separator.count)].elementsEqual(separator) {
            parts.append(Array(bytes[start..<at]))
            at += separator.count
            start = at
        } else {
            at += 1
        }
    }
    parts.append(Array(bytes[start...]))
    return parts
}

func fuzzPlacement(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let directory = state.root.appendingPathComponent("placement-1")
    try? FileManager.default.removeItem(at: directory)
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
    for (name, part) in zip(files, parts(Array(UnsafeBufferPointer(start: data, count: size)))) {
        FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: Data(part))
    }
    let model: PlacementModel
    do {
        guard let loaded = try PlacementModel.load(from: state, run: 1) else { return 0 }
        model = loaded
    } catch {
        // Why a seed does not load, when asked (a seed that does not load reaches no placing).
        if ProcessInfo.processInfo.environment["FUZZ_PLACEMENT_VERBOSE"] != nil { print("refused: \(error)") }
        return 0
    }
    if ProcessInfo.processInfo.environment["FUZZ_PLACEMENT_VERBOSE"] != nil { print("loaded \(model.ids.count) items") }
    // Three items, each with 6 neighbours among the run's rows, as the live index would find them.
    let k = 6, count = 3, dimension = Space.cnn.dimension
    let rows = model.ids.count
    let graph = NeighborGraph(
        count: count, k: k, indices: (0..<count * k).map { Int32(($0 * 7 + $0 / k) % rows) },
        distances: (0..<count * k).map { 0.02 * Float($0 % k + 1) })
    let vectors = Matrix(
        rows: count, columns: dimension, storage: (0..<count * dimension).map { Float(($0 * 31) % 17) / 17 - 0.5 })
    let stable = Set(model.stableClusterIDs)
    for placement in model.place(vectors, neighbours: graph) {
        let coordinates = [placement.map2.0, placement.map2.1, placement.map3.0, placement.map3.1, placement.map3.2]
        precondition(coordinates.allSatisfy(\.isFinite), "a loaded model placed an item at \(coordinates)")
        precondition(
            placement.cluster == -1 || stable.contains(placement.cluster),
            "a loaded model placed an item in cluster \(placement.cluster), which its run does not have")
        precondition(placement.probability.map { $0.isFinite && $0 >= 0 && $0 <= 1 } ?? true)
    }
    return 0
}
