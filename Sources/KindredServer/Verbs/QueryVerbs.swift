import Foundation
import KindredCore
import KindredEngine
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredProtocol
import KindredStore

// Queries: what the collection holds and what resembles what: STATUS, SIMILAR, SIMILAR-IMAGE's
// answer, EXPLAIN, INFO, ERRORS, DUPLICATES, THUMBS.

extension CommandService {
    func status() throws -> Response {
        let counts = try catalog.statusCounts()
        let progress = self.progress.current
        var rows: [[String]] = [["state", progress.phase.rawValue], ["server", serverPhase.withLock { $0.rawValue }]]
        rows += ItemStatus.allCases.map { [$0.rawValue, String(counts[$0] ?? 0)] }
        rows.append(["pending", String(progress.pending)])
        rows.append(["scanning", progress.scanning ? "yes" : "no"])
        rows.append(["ingest_problem", progress.problem ?? ""])
        rows.append(["polled_dirs", String(progress.polledDirectories)])
        rows.append(["inotify_overflows", String(progress.overflows)])
        rows.append(["index_size", live.withLock { $0.map { String($0.indexes.cnn.index.count) } } ?? "loading"])
        rows.append([
            "index_loading",
            progress.indexBuilds.sorted { $0.key < $1.key }.compactMap { space, build in
                let (inserted, total) = build.counts
                return total > 0 ? "\(space) \(inserted)/\(total)" : nil  // 0 of 0: read from its snapshot
            }.joined(separator: " "),
        ])
        rows.append([
            "deleted_nodes",
            live.withLock { $0.map { String($0.indexes.all.map(\.index.deletedCount).reduce(0, +)) } } ?? "",
        ])
        rows.append(["stale_at_start", String(progress.staleAtStart)])
        rows.append(["stale", String(try catalog.awaitingReextraction())])
        // Where ingestion's time went since start: thread-seconds a stage, summed over the threads
        // (`waiting`: the network's thread waiting for decoded files), and the files read.
        rows.append(["ingest_files", String(self.progress.stages.files)])
        rows.append(["ingest_shared", String(self.progress.stages.shared)])
        rows += self.progress.stages.rounded.map { ["ingest_\($0.stage.rawValue)_s", String($0.seconds)] }
        rows.append(["cnn_precision", cnnPrecision?.rawValue ?? ""])
        // The fused ranking's weights ([similar]), so a client can read EXPLAIN's terms.
        rows.append(["similar_style_weight", String(fusion.weights.style)])
        rows.append(["similar_phash_weight", String(fusion.weights.phash)])
        rows.append(["similar_region_weight", String(fusion.weights.region)])
        rows.append(["similar_region_floor", String(fusion.weights.regionFloor)])
        rows.append(["similar_region_items", fusion.regionForItems ? "yes" : "no"])
        // Query expansion (0 neighbours: none), so a client knows when explain=1's cnn term is
        // the expanded query's.
        rows.append(["similar_expand_neighbours", String(fusion.expansion?.neighbours ?? 0)])
        rows.append(["similar_expand_below", fusion.expansion.map { String($0.below) } ?? ""])
        rows.append(["roots", try catalog.roots().map(\.path).joined(separator: ":")])
        rows.append([
            "paused_roots",
            progress.pausedRoots.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "),
        ])
        rows.append(["skipped_names", String(progress.skippedNames)])
        rows.append(["last_snapshot", progress.lastSnapshot.map { String(Int($0.timeIntervalSince1970)) } ?? ""])
        let current = try catalog.currentRun()
        rows.append(["last_refit", current?.finishedAt.map(String.init) ?? ""])
        rows.append(["refit_running", live.withLock { $0?.refits?.isRunning ?? false } ? "yes" : "no"])
        rows.append(["refit_stage", live.withLock { $0?.refits?.stage } ?? ""])
        rows.append([
            "refit_progress", live.withLock { $0?.refits?.progress }.map { $0.fixed(3) } ?? "",
        ])
        rows.append(["clusters", current?.clusterCount.map(String.init) ?? ""])
        rows.append(["uptime_s", String(Int(Date().timeIntervalSince(started)))])
        return Response(columns: ["key", "value"], rows: rows)
    }

    func resolve(_ target: Target) throws -> CatalogItem {
        switch target {
        case .id(let id):
            guard let item = try catalog.item(id) else { throw ProtocolError(.notFound, "no item with id \(id)") }
            return item
        case .path(let text):
            // Lexical only: a question about a path outside the roots gets the same answer
            // whether or not it exists, so the socket is no oracle for the file system.
            let path = try CollectionPath(text)
            guard try catalog.rootSet().covers(path) else {
                throw ProtocolError(.forbidden, "\(text) is outside the watched roots")
            }
            guard let item = try catalog.item(path: path.string) else {
                throw ProtocolError(.notFound, "\(text) is not in the collection")
            }
            return item
        }
    }

    /// The target's item, which must be indexed: a query about it compares its vectors.
    func resolveIndexed(_ target: Target) throws -> (CatalogItem, ItemID) {
        let item = try resolve(target)
        guard let id = item.itemID else { throw ProtocolError(.notFound, "\(item.path) is not in the collection") }
        try Self.requireIndexed(Catalog.Listing(item), id: id)
        return (item, id)
    }

    /// The rule a query's target obeys, wherever its item was read: it is in the catalog and
    /// indexed; a failed one says why.
    static func requireIndexed(_ listing: Catalog.Listing?, id: ItemID) throws {
        guard let listing else { throw ProtocolError(.notFound, "no item with id \(id)") }
        switch listing.status {
        case .indexed: return
        case .failed: throw ProtocolError(.notFound, "\(listing.path) could not be read: \(listing.error ?? "")")
        case .queued: throw ProtocolError(.unavailable, "\(listing.path) is not indexed yet")
        }
    }

    func similar(_ target: Target, _ query: SimilarQuery, within: String?) throws -> Response {
        // By id, the target's standing is read with the answer's paths, in one catalog read (each
        // read is a pooled connection, a WAL lock and a statement: looking the item up first cost
        // 6 % of a SIMILAR's CPU, RESULTS.md); by path, the item is looked up first, for its id.
        let id: ItemID, resolved: CatalogItem?
        switch target {
        case .id(let asked): (id, resolved) = (asked, nil)
        case .path: (resolved, id) = try resolveIndexed(target)
        }
        let unchecked = resolved == nil ? id : nil
        // Without vectors, the reason is the one a lookup first gives (unknown, failed, not
        // indexed yet), else the missing space.
        func missing(_ what: String) throws -> ProtocolError {
            let item = try resolved ?? resolveIndexed(target).0
            return ProtocolError(.unavailable, "\(item.path) has no \(what) yet")
        }
        switch query.ranking {
        case .cnn, .style:
            let space = query.ranking.space
            guard let vector = try store.vector(id, space: space.rawValue) else {
                throw try missing("\(space.rawValue) vector")
            }
            return try rows(
                for: try neighbours(of: vector, excluding: id.rawValue, k: query.k, space: space, within: within),
                space: space, explain: query.explain, target: unchecked)
        case .fused:
            let ranking = fusion.forItems, indexes = try requireIndexes()
            guard
                let probe = try ranking.probe(
                    of: id, store: store, styles: indexes.style.index, hashes: indexes.hashes)
            else { throw try missing("cnn, style and phash vectors") }
            return try fused(probe, excluding: id.rawValue, query, within: within, ranking: ranking, target: unchecked)
        }
    }

    /// The paths of an answer's items, in one read with its target's standing, which must be
    /// `requireIndexed`'s (`target`: a target not checked yet).
    func paths(of items: [ItemID], target: ItemID?) throws -> [ItemID: String] {
        guard let target else { return try catalog.paths(of: items) }
        let listings = try catalog.listings(of: items + [target])
        try Self.requireIndexed(listings[target], id: target)
        return listings.mapValues(\.path)
    }

    /// SIMILAR-IMAGE: the nearest items to an image that need not be in the collection. The daemon
    /// reads only the bytes the client sent, never a file the client names.
    public func answerImage(_ bytes: [UInt8], _ query: SimilarQuery) -> Result<Response, ProtocolError> {
        do {
            let decoded = try bytes.withUnsafeBytes { (raw) throws(ImageError) in
                try ImageDecoder.decode(raw, path: "query image", options: decodeOptions)
            }.image
            let image = framing.prepare(decoded)
            func cnn() throws -> [Float] {
                var input = [Float](repeating: 0, count: CNNInput.count)
                image.cnnInput(into: &input, framing: framing)
                var features = [Float](repeating: 0, count: Space.cnn.dimension)
                let ran = network.withLock { network -> Bool in
                    guard let network else { return false }
                    network.run(input, count: 1, features: &features)
                    return true
                }
                guard ran else { throw ProtocolError(.unavailable, "no network for queries by image") }
                normalizeRows(&features, dimension: Space.cnn.dimension)
                return features
            }
            switch query.ranking {
            case .style:
                return .success(
                    try rows(
                        for: try neighbours(
                            of: StyleDescriptor.compute(image), excluding: nil, k: query.k, space: .style, within: nil),
                        space: .style, explain: query.explain))
            case .cnn:
                return .success(
                    try rows(
                        for: try neighbours(of: try cnn(), excluding: nil, k: query.k, space: .cnn, within: nil),
                        space: .cnn, explain: query.explain))
            case .fused:
                let probe = Fusion.Probe(
                    cnn: try cnn(), style: StyleDescriptor.compute(image),
                    phash: PerceptualHash.bytes(PerceptualHash.compute(image)),
                    thumbnail: StandardSpaces.thumbnail(of: decoded), picture: decoded)
                return .success(try fused(probe, excluding: nil, query, within: nil, ranking: fusion))
            }
        } catch let error as ProtocolError {
            return .failure(error)
        } catch let error as ImageError {
            return .failure(ProtocolError(.badRequest, error.reason))
        } catch {
            return .failure(ProtocolError(.internalError, "\(error)"))
        }
    }

    /// The `k` nearest in `space`; the walk keeps `ef` candidates (default: `index.ef_search`, at
    /// least 2k, so the k returned are the true ones).
    func neighbours(
        of query: [Float], excluding: UInt64?, k: Int, space: Space, within: String?, ef: Int? = nil
    ) throws -> [Neighbor] {
        try neighbours(of: query, excluding: excluding, k: k, space: space, within: within, ef: ef, exactly: nil).0
    }

    /// The same; with `exactly`, only that many of the nearest by the index's codes have exact
    /// distances, and the vectors they were measured with come back too (`LiveIndex.searchRecording`).
    func neighbours(
        of query: [Float], excluding: UInt64?, k: Int, space: Space, within: String?, ef: Int?, exactly: Int?
    ) throws -> ([Neighbor], (any ExactVectors)?) {
        guard let index = try requireIndexes()(space.rawValue) else {
            throw ProtocolError(.badRequest, "no index for space \(space.rawValue)")
        }
        // A folder that holds every item (a collection under one root) needs no filter, and is
        // found first, in O(log n). Otherwise the folder's items: none answers at once; up to
        // HNSWIndex.scanLimit are compared one by one; more filter the graph walk.
        var filter: ((UInt64) -> Bool)?, among: [UInt64]?
        if let within, case let folder = try CollectionPath(within), try !catalog.everyItemIsUnder(folder) {
            let few = try catalog.itemIDs(under: folder, limit: HNSWIndex.scanLimit + 1)
            if few.isEmpty { return ([], nil) }
            if few.count <= HNSWIndex.scanLimit {
                among = Array(few)
            } else {
                let allowed = try catalog.itemIDs(under: folder)
                filter = { allowed.contains($0) }
            }
        }
        let ef = ef ?? max(efSearch, 2 * k)
        guard let exactly else {
            return (try index.search(query, k: k, ef: ef, excluding: excluding, filter: filter, among: among), nil)
        }
        return try index.searchRecording(
            query, k: k, ef: ef, exactly: exactly, excluding: excluding, filter: filter, among: among)
    }

    /// The fused ranking (`fusion`, or `fusion.forItems` for a stored item's query): the CNN's
    /// nearest candidates, re-ranked. `target`: a query's target not checked yet (`paths(of:target:)`).
    func fused(
        _ probe: Fusion.Probe, excluding: UInt64?, _ query: SimilarQuery, within: String?, ranking fusion: Fusion,
        target: ItemID? = nil
    ) throws -> Response {
        // The pool's tail barely moves the top k after re-ranking, so the walk keeps no more than
        // the pool (not twice it, as a pure ranking does): with the default 64 candidates the
        // walk is a pure CNN query's (RESULTS.md, "Find similar"), and so are its exact re-reads,
        // the nearest 3k by the codes; the fused ranking reads the few others it ranks high.
        let pool = max(query.k, fusion.candidates)
        let indexes = try requireIndexes()
        // A stored item's walk starts at its own node, among its neighbours; any other query
        // (by image) starts at the entry point and keeps a candidate list twice as long, for the
        // same reach: its pool missed a crop's original that a pure CNN query, walking 2k wide,
        // ranked 5th (Benchmarks/RESULTS.md, "Crops matched from the query's own pixels").
        let ef = max(efSearch, pool) * (excluding == nil ? 2 : 1)
        let (found, cnns) = try neighbours(
            of: probe.cnn, excluding: excluding, k: pool, space: .cnn, within: within, ef: ef,
            exactly: indexes.cnn.index.rerankDepth(k: query.k, ef: ef))
        let ranked = try fusion.rerank(
            found, probe: probe, k: query.k, store: store, styles: indexes.style.index, hashes: indexes.hashes,
            cnns: cnns, codes: indexes.cnn.index)
        let paths = try paths(of: ranked.map { ItemID($0.label) }, target: target)
        var columns = ["rank", "score", "id", "path"]
        if query.explain { columns += SimilarQuery.explainColumns }
        return Response(
            columns: columns,
            rows: ranked.enumerated().map { rank, r in
                var row = [
                    String(rank + 1), r.terms.score.fixed(4), String(r.label),
                    paths[ItemID(r.label)] ?? "",
                ]
                if query.explain {
                    row += Self.columns(r.terms) + [r.expanded ? "yes" : "no", r.terms.region.fixed(4)]
                }
                return row
            })
    }

    /// EXPLAIN: each item's fused terms against the target, in the order asked; an item without
    /// stored vectors (unknown, failed, or deleted since) gets its id and empty terms.
    func explain(_ target: Target, _ items: [ItemID]) throws -> Response {
        let (item, id) = try resolveIndexed(target)
        let ranking = fusion.forItems
        guard let probe = try ranking.probe(of: id, store: store) else {
            throw ProtocolError(.unavailable, "\(item.path) has no cnn, style and phash vectors yet")
        }
        return Response(
            columns: ["id", "score", "cnn", "style", "phash", "phash_bits", "dominant", "region"],
            rows: zip(items, try ranking.explain(items, against: probe, store: store)).map { other, terms in
                guard let terms else { return [String(other.rawValue), "", "", "", "", "", "", ""] }
                return [String(other.rawValue), terms.score.fixed(4)] + Self.columns(terms)
                    + [terms.region.fixed(4)]
            })
    }

    /// The explain columns: each term's part of the score, the differing hash bits, the largest term.
    static func columns(_ terms: MatchTerms) -> [String] {
        [
            terms.cnn.fixed(4), terms.style.fixed(4),
            terms.phash.fixed(4), String(terms.phashBits), terms.dominant,
        ]
    }

    /// A pure space's answer; with `explain`, the one term is the whole score. `target`: a query's
    /// target not checked yet (`paths(of:target:)`).
    func rows(for neighbours: [Neighbor], space: Space, explain: Bool, target: ItemID? = nil) throws -> Response {
        var rows: [[String]] = []
        let paths = try paths(of: neighbours.map { ItemID($0.label) }, target: target)
        for (rank, neighbour) in neighbours.enumerated() {
            let path = paths[ItemID(neighbour.label)] ?? ""
            let score = (1 - neighbour.distance).fixed(4)
            var row = [String(rank + 1), score, String(neighbour.label), path]
            if explain {
                row += [space == .cnn ? score : "", space == .style ? score : "", "", "", space.rawValue, "no", ""]
            }
            rows.append(row)
        }
        var columns = ["rank", "score", "id", "path"]
        if explain { columns += SimilarQuery.explainColumns }
        return Response(columns: columns, rows: rows)
    }

    /// The stored thumbnails after item `after`, `limit` of them: id, side, base64 of the RGB bytes.
    func thumbs(after: UInt64, limit: Int) throws -> Response {
        let space = StandardSpaces.thumb
        guard store.spaces[space.name] != nil else { return Response(columns: ["id", "side", "rgb_base64"], rows: []) }
        let ids = try store.ids(space: space.name)
        let start = ids.firstIndex { $0.rawValue > after } ?? ids.endIndex
        var rows: [[String]] = []
        for id in ids[start...].prefix(limit) {
            guard let pixels = try store.vector(id, space: space.name, as: UInt8.self) else { continue }
            rows.append([String(id.rawValue), String(Space.thumbnailSide), Data(pixels).base64EncodedString()])
        }
        return Response(columns: ["id", "side", "rgb_base64"], rows: rows)
    }

    func info(_ target: Target) throws -> Response {
        let item = try resolve(target)
        let fields: [(String, String?)] = [
            ("id", item.id.map(String.init)), ("path", item.path), ("status", item.status.rawValue),
            ("size", String(item.size)),
            ("mtime_ns", String(item.mtimeNs)), ("content_hash", item.contentHash),
            ("width", item.width.map(String.init)),
            ("height", item.height.map(String.init)), ("format", item.format), ("error", item.error),
            ("first_seen", String(item.firstSeen)), ("last_indexed", item.lastIndexed.map(String.init)),
        ]
        return Response(columns: ["key", "value"], rows: fields.map { [$0.0, $0.1 ?? ""] })
    }

    func errors(limit: Int) throws -> Response {
        Response(columns: ["path", "reason"], rows: try catalog.failures(limit: limit).map { [$0.path, $0.reason] })
    }

    /// DUPLICATES: each group's members with the suggested keeper first (`Duplicates.keeper`).
    func duplicates(_ tier: DuplicateTier, maxDistance: Int) throws -> Response {
        var rows: [[String]] = []
        let groups: [[ItemID]]
        do {
            groups = try Duplicates.groups(
                tier, catalog: catalog, store: store, index: try requireIndexes().cnn, maxDistance: maxDistance)
        } catch let refusal as Duplicates.TooManyPairs {
            throw ProtocolError(.badRequest, "\(refusal)")
        }
        for (number, members) in groups.enumerated() {
            let items = try members.compactMap { try catalog.item($0) }
            guard let keeper = Duplicates.keeper(items) else { continue }
            for item in [keeper] + items.filter({ $0.id != keeper.id }) {
                rows.append([
                    String(number + 1), tier.rawValue, item.id.map(String.init) ?? "", item.path,
                    item.id == keeper.id ? "yes" : "no", item.width.map(String.init) ?? "",
                    item.height.map(String.init) ?? "", String(item.size),
                ])
            }
        }
        return Response(columns: ["group", "tier", "id", "path", "keep", "width", "height", "bytes"], rows: rows)
    }
}
