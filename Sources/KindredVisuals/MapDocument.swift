import Foundation
import KindredCore
import KindredImaging
import KindredStore
import Logging

/// `kindred map`: one self-contained HTML file that draws a run's 2-D or 3-D map, with the
/// items' thumbnails in sprite atlases, their clusters and their nearest neighbours, all inline.
/// The page's code is Web/map.js (and .css, .html); this type gathers and encodes the data.
public struct MapDocument: Sendable {
    public struct Options: Sendable {
        public var run: Int64?
        public var dimensions = 2
        /// Thumbnail cell side in pixels; 0 leaves thumbnails out (a much smaller file). nil
        /// chooses: 64 (decoded from the files) up to `largeMap` points, above that the 32-pixel
        /// thumbnails kindredd keeps, so a 100k map takes seconds, not minutes, and stays small.
        public var thumbnailSize: Int?
        public static let largeMap = 20_000
        /// Above this many points, thumbnails are kept for a spread of them only (`thumbnailSample`):
        /// every item's would make a 500 MB page at a million.
        public static let everyThumbnailUpTo = 100_000
        /// At most this many thumbnails in a large map: one from each occupied cell of a grid over
        /// the map, so every region has some when zoomed in (about 20 MB of atlases at 32 px).
        public static let thumbnailSample = 40_000
        /// Above this many points, each item keeps its 4 nearest neighbours for the click-through
        /// list, not 8 (16 MB less at a million).
        public static let fullNeighboursUpTo = 250_000
        /// A 2-D map of more points than this draws through a grid (Web/map.js: density blocks
        /// from far out, only the points on screen nearer in); `pointBudget` is how many visible
        /// points a frame may draw one by one before it draws density instead. A 3-D map of more
        /// points than this draws a fixed spread of `pointBudget` of them while the view moves,
        /// and every point once it is still.
        public var levelOfDetailAbove = 200_000
        public var pointBudget = 250_000
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        public init() {}
    }

    public let html: String
    public let run: Int64
    public let points: Int
    public let atlasCount: Int
    public let thumbnailFailures: [(path: String, reason: String)]
    public let thumbnailSize: Int
    /// Thumbnails taken from the store rather than decoded.
    public let storedThumbnails: Int
    /// Neighbour pairs whose match is explained in the page (score and terms).
    public let explainedPairs: Int

    /// `thumbnails` gives an item's stored thumbnail and its side in pixels (kindredd's `thumb`
    /// space); `explainer`, why each neighbour matches (the list under a clicked item shows it).
    public static func make(
        source: some RunSource, thumbnails: (any ThumbnailSource)? = nil, explainer: (any MatchExplainer)? = nil,
        options: Options, logger: Logger
    ) throws(VisualsError) -> MapDocument {
        guard options.dimensions == 2 || options.dimensions == 3 else {
            throw .invalidOption(name: "dims", value: "\(options.dimensions)", requirement: "2 or 3")
        }
        let run = try source.finishedRun(options.run)
        let members: [(assignment: Assignment, path: String)]
        let clusters: [ClusterFacts]
        do {
            members = try source.members(run: run.id)
            clusters = try source.clusters(run: run.id)
        } catch { throw .source("\(error)") }

        let n = members.count, dims = options.dimensions
        var coords = [Float](repeating: 0, count: n * dims)
        var labels = [Int32](repeating: -1, count: n)
        let neighbourCount = min(
            members.map(\.assignment.neighbours.count).max() ?? 0, n > Options.fullNeighboursUpTo ? 4 : .max)
        var neighbours = [Int32](repeating: -1, count: n * neighbourCount)
        // Each neighbour's fused terms, in ten-thousandths (Int16: a quarter of Float32's bytes,
        // finer than the four decimals SIMILAR prints), and its differing hash bits (255: none).
        var match = explainer.map { _ in MatchColumns(count: n * neighbourCount) }
        let rowOf = Dictionary(uniqueKeysWithValues: members.enumerated().map { ($1.assignment.item, Int32($0)) })
        var directories: [String] = [], directoryIndex: [String: Int32] = [:]
        var dirOf = [Int32](repeating: 0, count: n), names = [String](), ids = [UInt64]()
        names.reserveCapacity(n)
        ids.reserveCapacity(n)
        for (row, member) in members.enumerated() {
            let a = member.assignment
            if dims == 2 {
                coords[row * 2] = a.map2.0
                coords[row * 2 + 1] = a.map2.1
            } else {
                coords[row * 3] = a.map3.0
                coords[row * 3 + 1] = a.map3.1
                coords[row * 3 + 2] = a.map3.2
            }
            labels[row] = Int32(a.cluster)
            // Neighbours outside the run (indexed since, or deleted) are left out.
            var kept: [ItemID] = []
            for neighbour in a.neighbours where kept.count < neighbourCount {
                if let r = rowOf[neighbour] {
                    neighbours[row * neighbourCount + kept.count] = r; kept.append(neighbour)
                }
            }
            if let explainer, !kept.isEmpty {
                for (slot, terms) in explainer.explain(a.item, neighbours: kept).prefix(kept.count).enumerated() {
                    if let terms { match?.set(row * neighbourCount + slot, terms) }
                }
            }
            // Paths are stored as a directory table plus names: a collection has few directories.
            let slash = member.path.lastIndex(of: "/")
            let directory = slash.map { String(member.path[..<$0]) } ?? ""
            let index =
                directoryIndex[directory]
                ?? {
                    directories.append(directory)
                    directoryIndex[directory] = Int32(directories.count - 1)
                    return Int32(directories.count - 1)
                }()
            dirOf[row] = index
            names.append(slash.map { String(member.path[member.path.index(after: $0)...]) } ?? member.path)
            ids.append(a.item.rawValue)
        }

        var atlases: [String] = [], failures: [(path: String, reason: String)] = [], storedCount = 0
        var atlasLayout: [String: Int] = ["cell": 0, "perRow": 1]
        let side = options.thumbnailSize ?? (n > Options.largeMap ? thumbnails?.side ?? 32 : 64)
        // Rows with a thumbnail, and each row's place among them (−1: none); all rows up to
        // `everyThumbnailUpTo`.
        let sampled =
            n > Options.everyThumbnailUpTo ? Self.spread(coords, dims: dims, limit: Options.thumbnailSample) : nil
        var thumbnailOf: [Int32]?
        if side > 0 {
            let rows = sampled ?? Array(0..<n)
            if let sampled {
                var slots = [Int32](repeating: -1, count: n)
                for (slot, row) in sampled.enumerated() { slots[row] = Int32(slot) }
                thumbnailOf = slots
            }
            let items = rows.map { members[$0].assignment.item }
            let stored = { (slot: Int) -> RGBImage? in thumbnails?.side == side ? thumbnails?.image(items[slot]) : nil }
            let atlas = try ThumbnailAtlas.build(
                paths: rows.map { members[$0].path }, cell: side, stored: stored, threads: options.threads,
                logger: logger)
            storedCount = atlas.storedCount
            atlases = atlas.atlases.map { "data:image/jpeg;base64," + Data($0).base64EncodedString() }
            failures = atlas.failures
            atlasLayout = ["cell": atlas.cell, "perRow": atlas.perRow]
        }
        var payload: [String: Any] = [
            "run": run.id, "dims": dims, "count": n, "algorithm": run.algorithm,
            "clusters": clusters.map {
                ["id": $0.cluster, "size": $0.size, "name": $0.name ?? $0.label ?? ""] as [String: Any]
            },
            "coords": base64(coords), "labels": base64(labels), "dirOf": base64(dirOf),
            "neighbourCount": neighbourCount, "neighbours": base64(neighbours),
            "dirs": directories, "names": names, "ids": ids,
            "atlas": atlasLayout, "atlases": atlases,
        ]
        if let thumbnailOf { payload["thumbnailOf"] = base64(thumbnailOf) }
        if let match, let weights = explainer?.weights {
            payload["match"] = [
                "styleWeight": (Double(weights.style) * 1000).rounded() / 1000,
                "phashWeight": (Double(weights.phash) * 1000).rounded() / 1000,
                "regionWeight": (Double(weights.region) * 1000).rounded() / 1000, "cnn": base64(match.cnn),
                "style": base64(match.style), "phash": base64(match.phash), "bits": base64(match.bits),
                "region": base64(match.region),
            ]
        }
        payload["lodAbove"] = options.levelOfDetailAbove
        payload["pointBudget"] = options.pointBudget
        // Paths and names come from the collection: the data block must stay data whatever they
        // hold. JSONSerialization escapes "/" as "\/", so no "</script>" can end the block early,
        // and every "<" (only ever inside a string in JSON) is written \u003c, so a file named
        // "<!--<script>…" cannot put the HTML parser into the script element's escaped states,
        // where the block's own "</script>" no longer ends it and the map's code becomes data.
        let json = Self.dataBlock(try! JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]))
        let title = "Kindred map · run \(run.id)"
        let html = WebPage.fill(
            "map.html",
            [
                "TITLE": WebPage.escape(title), "CSS": WebAssets.files["map.css"]!, "DATA": json,
                "SCRIPT": WebAssets.files["map.js"]!,
            ])
        return MapDocument(
            html: html, run: run.id, points: n, atlasCount: atlases.count, thumbnailFailures: failures,
            thumbnailSize: side,
            storedThumbnails: storedCount, explainedPairs: match?.explained ?? 0)
    }

    /// JSON text for the page's data block, every "<" written \u003c (see `make`). Copied by
    /// runs between the "<"s memchr finds: on 100 MB of map-like JSON (a million-point map with
    /// thumbnails is that size) `String.replacingOccurrences` took 4.3 s, this 0.14 s.
    static func dataBlock(_ json: Data) -> String {
        json.withUnsafeBytes { raw -> String in
            guard let base = raw.baseAddress, memchr(base, 0x3C, raw.count) != nil else {
                return String(decoding: raw, as: UTF8.self)
            }
            let escaped = Array(#"\u003c"#.utf8)
            var out: [UInt8] = []
            out.reserveCapacity(raw.count + 64)
            var start = 0
            while start < raw.count, let hit = memchr(base + start, 0x3C, raw.count - start) {
                let at = base.distance(to: UnsafeRawPointer(hit))
                out.append(contentsOf: raw[start..<at])
                out.append(contentsOf: escaped)
                start = at + 1
            }
            out.append(contentsOf: raw[start...])
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// The neighbour list's match columns, one entry per neighbour slot (Web/map.js reads them).
    struct MatchColumns {
        var cnn: [Int16], style: [Int16], phash: [Int16], region: [Int16], bits: [UInt8]
        var explained = 0

        init(count: Int) {
            cnn = [Int16](repeating: 0, count: count)
            style = cnn
            phash = cnn
            region = cnn
            bits = [UInt8](repeating: 255, count: count)
        }

        mutating func set(_ slot: Int, _ terms: MatchTerms) {
            // Each term lies within ±1 (cosines weighted by at most 1 / the weights' sum); the
            // clamp keeps a corrupt vector from trapping the conversion. In Double the product is
            // exact, and ties go to even, so a term read from SIMILAR's "%.4f" text gets the same
            // ten-thousandths as the Float it was printed from.
            func fixed(_ value: Float) -> Int16 {
                Int16(max(-30000, min(30000, (Double(value) * 10000).rounded(.toNearestOrEven))))
            }
            cnn[slot] = fixed(terms.cnn)
            style[slot] = fixed(terms.style)
            phash[slot] = fixed(terms.phash)
            region[slot] = fixed(terms.region)
            bits[slot] = UInt8(clamping: terms.phashBits)
            explained += 1
        }
    }

    /// Up to `limit` rows spread over the map: the first row in each occupied cell of a square
    /// grid of ⌊√limit⌋² cells on the first two coordinates.
    static func spread(_ coords: [Float], dims: Int, limit: Int) -> [Int] {
        let n = coords.count / dims
        guard n > limit else { return Array(0..<n) }
        var lo = (Float.infinity, Float.infinity), hi = (-Float.infinity, -Float.infinity)
        for i in 0..<n where coords[i * dims].isFinite && coords[i * dims + 1].isFinite {
            let (x, y) = (coords[i * dims], coords[i * dims + 1])
            lo = (min(lo.0, x), min(lo.1, y))
            hi = (max(hi.0, x), max(hi.1, y))
        }
        let side = max(1, Int(Double(limit).squareRoot()))
        let scale = (Float(side) / max(hi.0 - lo.0, 1e-12), Float(side) / max(hi.1 - lo.1, 1e-12))
        var taken = [Bool](repeating: false, count: side * side), rows: [Int] = []
        for i in 0..<n where coords[i * dims].isFinite && coords[i * dims + 1].isFinite {
            let cx = min(side - 1, max(0, Int((coords[i * dims] - lo.0) * scale.0)))
            let cy = min(side - 1, max(0, Int((coords[i * dims + 1] - lo.1) * scale.1)))
            if !taken[cy * side + cx] {
                taken[cy * side + cx] = true
                rows.append(i)
            }
        }
        return rows
    }

    private static func base64<T>(_ values: [T]) -> String {
        values.withUnsafeBytes { Data($0).base64EncodedString() }
    }
}

/// The page templates of Web/: `{{NAME}}` placeholders filled once each.
enum WebPage {
    /// One pass over the template, so a value that happens to contain `{{…}}` stays as it is.
    static func fill(_ template: String, _ values: [String: String]) -> String {
        let page = WebAssets.files[template]!
        var result = "", rest = page[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            result += rest[..<open.lowerBound]
            let name = String(rest[open.upperBound..<close.lowerBound])
            result += values[name] ?? "{{\(name)}}"
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
