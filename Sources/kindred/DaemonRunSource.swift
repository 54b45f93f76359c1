import Foundation
import KindredCore
import KindredImaging
import KindredProtocol
import KindredStore
import KindredVisuals

/// A refit run read through kindredd's socket (RUN, RUN-CLUSTERS, RUN-MEMBERS, THUMBS), for a
/// member of the socket's group who may not read the state directory. The rows are decoded by
/// `RunRows`, beside the encoder the daemon uses.
struct DaemonRunSource: RunSource {
    let client: SocketClient

    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// The answer's rows, fields unescaped; `nil` when kindredd has no such thing (`not-found`).
    func rows(_ request: Request) throws -> [[String]]? {
        switch try client.ask(request) {
        case .success(let rows): return rows
        case .failure(let refusal) where refusal.code == .notFound: return nil
        case .failure(let refusal): throw Refused(description: "kindredd: \(refusal)")
        }
    }

    func run(_ id: Int64?) throws -> RefitRun? {
        try rows(.run(id: id))?.first.map(RunRows.run)
    }

    func clusters(run: Int64) throws -> [ClusterFacts] {
        try (rows(.runClusters(run: run)) ?? []).map(RunRows.cluster)
    }

    func members(run: Int64) throws -> [(assignment: Assignment, path: String)] {
        var members: [(assignment: Assignment, path: String)] = []
        while true {
            let after = members.last?.assignment.item.rawValue ?? 0
            let page = try (rows(.runMembers(run: run, after: after, limit: 10000)) ?? []).map(RunRows.member)
            members += page
            if page.count < 10000 { return members }
        }
    }
}

/// kindredd's stored thumbnails through THUMBS, a page at a time. The map asks for items in
/// ascending id order, so one page is held at once.
final class DaemonThumbnails: ThumbnailSource {
    let source: DaemonRunSource
    let side: Int
    private var page: [UInt64: [UInt8]] = [:]
    private var fetchedThrough: UInt64 = 0
    private var exhausted = false

    /// nil when kindredd keeps no thumbnails.
    init?(source: DaemonRunSource) {
        guard let first = try? source.rows(.thumbs(after: 0, limit: 1))?.first, first.count == 3,
            let side = Int(first[1])
        else { return nil }
        self.source = source
        self.side = side
    }

    func image(_ item: ItemID) -> RGBImage? {
        while item.rawValue > fetchedThrough && !exhausted {
            guard let rows = try? source.rows(.thumbs(after: fetchedThrough, limit: 1000)) else {
                exhausted = true; break
            }
            page = [:]
            for row in rows where row.count == 3 {
                guard let id = UInt64(row[0]), let bytes = Data(base64Encoded: row[2]) else { continue }
                page[id] = Array(bytes)
                fetchedThrough = max(fetchedThrough, id)
            }
            if rows.count < 1000 { exhausted = true }
        }
        guard let pixels = page[item.rawValue], pixels.count == side * side * 3 else { return nil }
        return RGBImage(width: side, height: side, pixels: pixels)
    }
}

/// Why map neighbours match, asked of kindredd (EXPLAIN, one request per item), with the weights
/// it ranks by (STATUS); the terms are the pair's under SIMILAR's formula, to its four decimals.
struct DaemonMatchExplainer: MatchExplainer {
    let source: DaemonRunSource
    let weights: FusionWeights

    /// nil when kindredd does not say its weights (one older than EXPLAIN).
    init?(source: DaemonRunSource) {
        guard let rows = try? source.rows(.status) else { return nil }
        let status = Dictionary(rows.filter { $0.count == 2 }.map { ($0[0], $0[1]) }) { first, _ in first }
        guard let style = status["similar_style_weight"].flatMap(Float.init),
            let phash = status["similar_phash_weight"].flatMap(Float.init)
        else { return nil }
        self.source = source
        // The weights EXPLAIN (a stored pair) uses: the region term only where kindredd adds it to
        // queries by item. A kindredd older than the region term says nothing of it: it had none.
        let region = status["similar_region_items"] == "yes" ? status["similar_region_weight"].flatMap(Float.init) : nil
        self.weights = FusionWeights(
            style: style, phash: phash, region: region ?? 0,
            regionFloor: status["similar_region_floor"].flatMap(Float.init) ?? FusionWeights.standard.regionFloor)
    }

    func explain(_ item: ItemID, neighbours: [ItemID]) -> [MatchTerms?] {
        var terms: [MatchTerms?] = []
        for start in stride(from: 0, to: neighbours.count, by: Request.maxExplained) {
            let chunk = Array(neighbours[start..<min(start + Request.maxExplained, neighbours.count)])
            guard let rows = try? source.rows(.explain(.id(item), items: chunk)), rows.count == chunk.count else {
                return neighbours.map { _ in nil }
            }
            terms += rows.map { row in
                // A kindredd older than the region term answers 7 columns.
                guard row.count == 7 || row.count == 8, let cnn = Float(row[2]), let style = Float(row[3]),
                    let phash = Float(row[4]), let bits = Int(row[5])
                else { return nil }
                let region = row.count == 8 ? Float(row[7]) ?? 0 : 0
                return MatchTerms(cnn: cnn, style: style, phash: phash, phashBits: bits, region: region)
            }
        }
        return terms
    }
}
