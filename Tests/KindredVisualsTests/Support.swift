import Foundation
import KindredCore
import KindredImaging
import KindredStore
import KindredTestSupport
import Logging
import Testing

/// A state directory holding a finished refit run over real image files: three clusters and
/// some noise on the 2-D and 3-D maps, each item's nearest neighbours, and the metrics a refit
/// stores (scree, knife, k candidates).
struct RunFixture {
    let directory: URL
    let catalog: Catalog
    let run: Int64
    let paths: [String]
    let labels: [Int]
    let neighbours: [[Int]]
    let points: [(Float, Float, Float)]
    /// One item's file is deleted after the run: its thumbnail must fail, the rest must not.
    let missing: Int

    static let clusterCentres: [(Float, Float, Float)] = [(0, 0, 0), (10, 0, 4), (5, 8, -4)]

    /// `name` names item i's file (a test of hostile file names passes its own).
    init(
        items n: Int = 300, algorithm: String = "hdbscan",
        name: (Int) -> String = { String(format: "item-%04d.png", $0) }
    ) throws {
        directory = temporaryDirectory("visuals")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        catalog = try Catalog(url: directory.appendingPathComponent("catalog.sqlite"), logger: testLogger)
        var random = SeededRandom(seed: 7)
        var files: [Catalog.SeenFile] = [], labels: [Int] = [], points: [(Float, Float, Float)] = []
        for i in 0..<n {
            // Every tenth item is noise, scattered over the whole map.
            let label = i % 10 == 9 ? -1 : i % 3
            let folder = directory.appendingPathComponent(label < 0 ? "noise" : "cluster-\(label)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let url = folder.appendingPathComponent(name(i))
            try Data(Fixtures.png(composition(width: 48, height: 36, seed: UInt64(i)), kind: .rgb8)).write(to: url)
            files.append(.init(path: url.path, size: 1, mtimeNs: 1))
            labels.append(label)
            let gauss = { () -> Float in Float(random.unit()) + Float(random.unit()) + Float(random.unit()) - 1.5 }
            if label < 0 {
                points.append(
                    (Float(random.unit()) * 16 - 3, Float(random.unit()) * 14 - 3, Float(random.unit()) * 10 - 5))
            } else {
                let c = Self.clusterCentres[label]
                points.append((c.0 + gauss(), c.1 + gauss(), c.2 + gauss()))
            }
        }
        let items = try catalog.enqueue(files).map { $0.item.itemID! }
        try markIndexed(items, catalog: catalog, in: directory, width: 48, height: 36, format: "png")
        // Neighbours by exact search on the 3-D map, the item itself left out.
        let neighbours = points.indices.map { i in
            points.indices.filter { $0 != i }.sorted { a, b in
                func d(_ j: Int) -> Float {
                    let (p, q) = (points[i], points[j]);
                    return (p.0 - q.0) * (p.0 - q.0) + (p.1 - q.1) * (p.1 - q.1) + (p.2 - q.2) * (p.2 - q.2)
                }
                return (d(a), a) < (d(b), b)
            }.prefix(8).map { $0 }
        }
        let assignments = items.indices.map { i in
            Assignment(
                item: items[i], cluster: labels[i], probability: labels[i] < 0 ? 0 : 0.9, outlierScore: 0.1,
                map2: (points[i].0, points[i].1), map3: points[i], neighbours: neighbours[i].map { items[$0] })
        }
        let clusters = (0..<3).map { k in
            ClusterFacts(
                cluster: k, size: labels.filter { $0 == k }.count, exemplar: items[k], silhouette: 0.6, bornRunID: 1,
                matchedJaccard: nil)
        }
        var knife: [String: Any] = [:]
        for k in 0..<3 {
            let size = clusters[k].size
            let values: [Double] = (0..<size).map { 0.8 - Double($0) / Double(size) * 0.9 }
            knife[String(k)] = ["n": size, "values": values] as [String: Any]
        }
        let scree: [Double] = (1...64).map { 1 - exp(-Double($0) / 12) }
        let candidates: [[String: Any]] = (2...8).map { k in
            let silhouette: Double = k == 3 ? 0.61 : 0.3 + 0.01 * Double(k)
            return ["k": k, "silhouette": silhouette, "inertia": 1000.0 / Double(k)]
        }
        var metrics: [String: Any] = [
            "pca_scree": scree, "pca_components": 28, "variance_target": 0.9, "davies_bouldin": 0.55,
        ]
        metrics["silhouette_sample"] = labels.filter { $0 >= 0 }.count
        metrics["silhouette_knife"] = knife
        if algorithm == "kmeans" { metrics["k_candidates"] = candidates }
        let json = { (object: Any) in
            String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        run = try catalog.beginRun(algorithm: algorithm, parameters: json(["min_cluster_size": 20, "neighbors": 15]))
        try catalog.finishRun(
            run,
            summary: RunSummary(
                itemCount: n, clusterCount: 3, noiseFraction: Double(labels.filter { $0 < 0 }.count) / Double(n),
                silhouette: 0.6, metrics: json(metrics), timings: json(["pca": 0.1, "total": 1.5])),
            assignments: assignments, clusters: clusters, keep: 3)
        paths = files.map(\.path)
        self.labels = labels
        self.neighbours = neighbours
        self.points = points
        missing = n / 2
        try FileManager.default.removeItem(atPath: paths[missing])
    }
}

/// Tests/Support/browser.py: opens a page in headless Chromium through the DevTools protocol.
struct Browser {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Support/browser.py")

    static func open(_ page: URL, _ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, page.path] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "browser.py failed: \(message)")
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }
}

/// Pixel statistics of a screenshot region: how much differs from the background, and how many
/// distinct (coarsely quantised) colours there are.
struct PixelStatistics {
    var changedFraction: Double
    var distinctColours: Int

    init(png url: URL, region: (x: Int, y: Int, width: Int, height: Int)? = nil, background: (Int, Int, Int)) throws {
        var options = DecodeOptions()
        options.targetShortSide = 1 << 20  // full size
        let image = try ImageDecoder.decode(file: url, options: options).image
        let r = region ?? (0, 0, image.width, image.height)
        var changed = 0, colours = Set<Int>()
        for y in r.y..<min(image.height, r.y + r.height) {
            for x in r.x..<min(image.width, r.x + r.width) {
                let p = (y * image.width + x) * 3
                let (red, green, blue) = (Int(image.pixels[p]), Int(image.pixels[p + 1]), Int(image.pixels[p + 2]))
                if abs(red - background.0) + abs(green - background.1) + abs(blue - background.2) > 24 { changed += 1 }
                colours.insert((red >> 4) << 8 | (green >> 4) << 4 | (blue >> 4))
            }
        }
        changedFraction = Double(changed) / Double(max(1, r.width * r.height))
        distinctColours = colours.count
    }
}

/// Marks `items` indexed through the owner of the commit order, with no vectors: the map reads
/// none of them.
func markIndexed(
    _ items: [ItemID], catalog: Catalog, in directory: URL, width: Int, height: Int, format: String
) throws {
    let vectors = try VectorStore(
        directory: directory.appendingPathComponent("vectors"), spaces: [], logger: testLogger)
    try StateStore(catalog: catalog, vectors: vectors).index(
        items.map {
            StateStore.Indexed(
                extraction: Catalog.Extraction(
                    id: $0, contentHash: "h\($0.rawValue)", width: width, height: height, format: format),
                vectors: [])
        })
}

/// A finished run of `n` items with no files behind them (thumbnails left out): Gaussian clusters
/// on the maps, for the large-map level of detail. Neighbours are the next items of the same
/// cluster, which no check here reads.
struct LargeRunFixture {
    let directory: URL
    let catalog: Catalog
    let points: [(Float, Float)]

    init(items n: Int, clusters: Int = 24) throws {
        directory = temporaryDirectory("visuals-large")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        catalog = try Catalog(url: directory.appendingPathComponent("catalog.sqlite"), logger: testLogger)
        var random = SeededRandom(seed: 3)
        let centres = (0..<clusters).map { _ in (Float(random.unit()) * 40, Float(random.unit()) * 40) }
        let files = (0..<n).map { Catalog.SeenFile(path: String(format: "/large/%07d.jpg", $0), size: 1, mtimeNs: 1) }
        let items = try catalog.enqueue(files).map { $0.item.itemID! }
        try markIndexed(items, catalog: catalog, in: directory, width: 8, height: 8, format: "jpeg")
        var points: [(Float, Float)] = []
        var assignments: [Assignment] = []
        assignments.reserveCapacity(n)
        for i in 0..<n {
            let c = i % clusters
            let p = (centres[c].0 + random.normal(), centres[c].1 + random.normal())
            points.append(p)
            assignments.append(
                Assignment(
                    item: items[i], cluster: c, probability: 0.9, outlierScore: 0.1, map2: p, map3: (p.0, p.1, 0),
                    neighbours: (1...8).map { items[(i + $0 * clusters) % n] }))
        }
        let facts = (0..<clusters).map { k in
            ClusterFacts(
                cluster: k, size: n / clusters, exemplar: items[k], silhouette: 0.5, bornRunID: 1, matchedJaccard: nil)
        }
        let run = try catalog.beginRun(algorithm: "hdbscan", parameters: "{}")
        try catalog.finishRun(
            run,
            summary: RunSummary(
                itemCount: n, clusterCount: clusters, noiseFraction: 0, silhouette: 0.5, metrics: "{}",
                timings: "{}"),
            assignments: assignments, clusters: facts, keep: 3)
        self.points = points
    }
}
