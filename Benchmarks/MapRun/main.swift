import Dispatch
// Writes a synthetic finished refit run into a state directory's catalog, for map and report
// benchmarks at sizes no refit here reaches quickly: n items in 40 Gaussian clusters on the 2-D
// and 3-D maps (10 % noise), 8 neighbours each (drawn from the item's own cluster), and the
// metrics a refit stores. With --images, item paths are symlinks (in DIR/images) cycling through
// the image files under that folder, so the map gets real thumbnails, and each item also gets
// the 32-pixel thumbnail kindredd would have stored (the `thumb` space; each distinct file is
// decoded once); else /synthetic/NNNNNNN.jpg.
//
// usage: kindred-bench-maprun --state DIR --n N [--images DIR]
import Foundation
import KindredCore
import KindredEngine
import KindredImaging
import KindredStore
import Logging

func argument(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

guard let state = argument("--state"), let n = argument("--n").flatMap(Int.init) else {
    fatalError("usage: kindred-bench-maprun --state DIR --n N [--images DIR]")
}
var images: [String] = []
if let directory = argument("--images") {
    let walker = FileManager.default.enumerator(atPath: directory)
    while let name = walker?.nextObject() as? String {
        if [".png", ".jpg", ".jpeg", ".webp"].contains(where: name.lowercased().hasSuffix) {
            images.append(directory + "/" + name)
        }
    }
    images.sort()
}
let paths = StatePaths(root: URL(fileURLWithPath: state))
let lock = try StateLock.acquire(paths, holder: "kindred-bench-maprun")  // one writer per state
let links = state + "/images"
if !images.isEmpty { try FileManager.default.createDirectory(atPath: links, withIntermediateDirectories: true) }
let stateStore = try StateStore(
    paths: paths, spaces: [StandardSpaces.thumb], logger: Logger(label: "kindred.bench.maprun"))
let catalog = stateStore.catalog
var random = SeededRandom(seed: 11)
let clusterCount = 40
let centres = (0..<clusterCount).map { _ in
    (Float(random.unit()) * 40, Float(random.unit()) * 40, Float(random.unit()) * 40)
}
var labels: [Int] = [], points: [(Float, Float, Float)] = [], ids: [ItemID] = []
// The thumbnails ingestion would have stored, one decode per distinct file.
let side = Space.thumbnailSide
let thumbs = UnsafeMutableBufferPointer<[UInt8]>.allocate(capacity: max(1, images.count))
thumbs.initialize(repeating: [])
let shared = UnsafeSendableBox(thumbs)
let files = images
performDealt(items: files.count, workers: ProcessInfo.processInfo.activeProcessorCount) { i in
    var options = DecodeOptions()
    options.targetShortSide = side
    let image =
        (try? ImageDecoder.decode(file: URL(fileURLWithPath: files[i]), options: options).image)
        ?? RGBImage(width: side, height: side)
    shared.value[i] = image.squareThumbnail(side: side).pixels
}
for first in stride(from: 0, to: n, by: 5000) {
    let rows = first..<min(n, first + 5000)
    let seen = try rows.map { row in
        guard !images.isEmpty else {
            return Catalog.SeenFile(path: String(format: "/synthetic/%07d.jpg", row), size: 1, mtimeNs: 1)
        }
        let source = images[row % images.count]
        let link = links + String(format: "/%07d.", row) + (source as NSString).pathExtension
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: source)
        return Catalog.SeenFile(path: link, size: 1, mtimeNs: 1)
    }
    // Only the thumbnails: the map reads nothing else of an item.
    ids += try stateStore.importItems(seen, contentHash: "synthetic") { offset in
        images.isEmpty ? [] : [(StandardSpaces.thumb.name, .bytes(thumbs[(rows.lowerBound + offset) % images.count]))]
    }
}
thumbs.deinitialize()
thumbs.deallocate()
let gauss = { (r: inout SeededRandom) -> Float in Float(r.unit()) + Float(r.unit()) + Float(r.unit()) - 1.5 }
var members = [[Int]](repeating: [], count: clusterCount)
for row in 0..<n {
    let label = random.below(10) == 0 ? -1 : random.below(clusterCount)
    labels.append(label)
    if label < 0 {
        points.append((Float(random.unit()) * 44 - 2, Float(random.unit()) * 44 - 2, Float(random.unit()) * 44 - 2))
    } else {
        let c = centres[label]
        points.append((c.0 + 2 * gauss(&random), c.1 + 2 * gauss(&random), c.2 + 2 * gauss(&random)))
        members[label].append(row)
    }
}
let assignments = (0..<n).map { row in
    let pool = labels[row] < 0 ? [] : members[labels[row]]
    let neighbours = pool.isEmpty ? [] : (0..<8).map { _ in ids[pool[random.below(pool.count)]] }
    return Assignment(
        item: ids[row], cluster: labels[row], probability: 0.9, outlierScore: 0.1,
        map2: (points[row].0, points[row].1), map3: points[row], neighbours: neighbours)
}
let clusters = (0..<clusterCount).map {
    ClusterFacts(
        cluster: $0, size: members[$0].count, exemplar: ids[members[$0][0]], silhouette: 0.5, bornRunID: 1,
        matchedJaccard: nil)
}
let metrics =
    #"{"pca_scree":[0.2,0.35,0.47,0.56,0.63,0.69,0.74,0.78,0.81,0.84,0.86,0.88,0.9,0.91],"pca_components":13,"variance_target":0.9}"#
let run = try catalog.beginRun(algorithm: "hdbscan", parameters: "{}")
try catalog.finishRun(
    run,
    summary: RunSummary(
        itemCount: n, clusterCount: clusterCount, noiseFraction: Double(labels.filter { $0 < 0 }.count) / Double(n),
        silhouette: 0.5, metrics: metrics, timings: "{}"),
    assignments: assignments, clusters: clusters, keep: 1)
print("run \(run): \(n) items, \(clusterCount) clusters, \(images.count) distinct image files")

withExtendedLifetime(lock) {}  // held to the end
