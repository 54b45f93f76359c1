import Foundation
import KindredCore
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredProtocol
import KindredServer
import KindredStore
import KindredTestSupport
import Testing

@testable import KindredEngine

/// The fused default ranking and its explanation, through the command service over a real store.
@Suite struct FusionTests {
    func rows(_ answer: Result<Response, ProtocolError>) throws -> (columns: [String], rows: [[String]]) {
        let response = try answer.get()
        return (response.columns, response.rows)
    }

    /// `within=` a folder: its items only, in every ranking; a folder with none answers no rows
    /// (at once: no graph is walked for it); a folder of the whole collection answers as without.
    @Test func withinAFolderAnswersFromItsItemsOnly() throws {
        let fixture = try IngestFixture()
        _ = try fixture.ingestor.ingest(fixture.files)
        let service = CommandService(
            catalog: fixture.catalog, store: fixture.store, indexes: fixture.ingestor.indexes, logger: testLogger)
        let sub = fixture.images.appendingPathComponent("sub dir").path
        for ranking in [Ranking.fused, .cnn, .style] {
            let query = SimilarQuery(k: 5, ranking: ranking)
            let (_, inSub) = try rows(service.answer(.similar(.id(ItemID(1)), query, within: sub)))
            #expect(inSub.count == 1 && inSub[0][3].hasPrefix(sub + "/"), "\(ranking): \(inSub)")
            let (_, none) = try rows(service.answer(.similar(.id(ItemID(1)), query, within: sub + "/nothing here")))
            #expect(none.isEmpty)
            let (_, all) = try rows(service.answer(.similar(.id(ItemID(1)), query, within: fixture.images.path)))
            let (_, unfiltered) = try rows(service.answer(.similar(.id(ItemID(1)), query, within: nil)))
            #expect(all == unfiltered, "\(ranking)")
        }
    }

    @Test func explainColumnsAddUpToTheScoreAndRankIt() throws {
        let fixture = try IngestFixture()
        _ = try fixture.ingestor.ingest(fixture.files)
        // Plain terms against the stored vectors; the expanded cnn term has its own test below.
        let weights = FusionWeights(style: 0.5, phash: 0.2, region: 0.5, regionFloor: 0.3)
        let fusion = Fusion(weights: weights, candidates: 100, expansion: nil, regionForItems: true)
        let service = CommandService(
            catalog: fixture.catalog, store: fixture.store, indexes: fixture.ingestor.indexes,
            network: try StandardSpaces.network(weights: convertedWeights, batchSize: 1, threads: 1), fusion: fusion,
            logger: testLogger)
        let query = SimilarQuery(k: 5, ranking: .fused, explain: true)
        let (columns, answer) = try rows(service.answer(.similar(.id(ItemID(1)), query, within: nil)))
        #expect(
            columns == [
                "rank", "score", "id", "path", "cnn", "style", "phash", "phash_bits", "dominant", "expanded", "region",
            ])
        #expect(answer.count == 5 && !answer.contains { $0[2] == "1" }, "five others, not itself")
        var previous = Float.infinity
        let thumbnail = try #require(try fixture.store.vector(ItemID(1), space: "thumb", as: UInt8.self))
        let regionMatch = try #require(RegionMatch(thumbnail: thumbnail, side: 32))
        for row in answer {
            let score = Float(row[1])!, parts = (row[4...6] + [row[10]]).map { Float($0)! }, bits = Int(row[7])!
            #expect(abs(parts.reduce(0, +) - score) <= 0.0002, "\(row)")
            #expect(score <= previous, "ranked by score")
            previous = score
            #expect((0...64).contains(bits) && row[9] == "no")
            let names = ["cnn", "style", "phash", "region"]
            #expect(row[8] == names[parts.indices.max { parts[$0] < parts[$1] }!], "\(row)")
            // Each part is its term times its weight, over the weights' sum, from the stored vectors.
            let id = ItemID(UInt64(row[2])!)
            let cnn = dot(
                try fixture.store.vector(ItemID(1), space: "cnn")!, try fixture.store.vector(id, space: "cnn")!)
            let style = dot(
                try fixture.store.vector(ItemID(1), space: "style")!, try fixture.store.vector(id, space: "style")!)
            let total: Float = 1 + 0.5 + 0.2 + 0.5
            #expect(abs(parts[0] - cnn / total) <= 0.0002 && abs(parts[1] - 0.5 * style / total) <= 0.0002, "\(row)")
            #expect(abs(parts[2] - 0.2 * (1 - Float(bits) / 64) / total) <= 0.0002)
            // The region term: the thumbnails' correlation above the floor, over the room above it.
            let correlation = regionMatch.correlation(
                with: try fixture.store.vector(id, space: "thumb", as: UInt8.self)!, side: 32)
            #expect(abs(parts[3] - 0.5 * max(0, (correlation ?? 0) - 0.3) / 0.7 / total) <= 0.0002, "\(row)")
            // The map's neighbour list explains a pair by the same code from the stored vectors.
            let probe = try #require(try fusion.probe(of: ItemID(1), store: fixture.store))
            let again = try #require(try fusion.explain([id], against: probe, store: fixture.store)[0])
            #expect(abs(again.score - score) <= 0.0002 && again.phashBits == bits && again.dominant == row[8])
        }
        // EXPLAIN gives the same columns for the ids asked, in their order, and empty terms for
        // an id the collection lacks.
        let asked = answer.reversed().map { ItemID(UInt64($0[2])!) } + [ItemID(999_999)]
        let (explainColumns, explained) = try rows(service.answer(.explain(.id(ItemID(1)), items: asked)))
        #expect(explainColumns == ["id", "score", "cnn", "style", "phash", "phash_bits", "dominant", "region"])
        #expect(explained.map { $0[0] } == asked.map { String($0.rawValue) })
        // (SIMILAR's cnn term comes from the index's distance, EXPLAIN's from the stored vectors:
        // they may differ in the last decimal.)
        for (again, row) in zip(explained, answer.reversed()) {
            let numbers = zip(again[1...4] + [again[7]], [row[1]] + row[4...6] + [row[10]]).map {
                abs(Float($0)! - Float($1)!)
            }
            #expect(numbers.allSatisfy { $0 <= 0.0002 } && again[5...6] == row[7...8], "\(again) \(row)")
        }
        #expect(explained.last!.dropFirst().allSatisfy { $0.isEmpty }, "\(explained)")
        // A pure space's explanation is its one term.
        let (_, pure) = try rows(
            service.answer(.similar(.id(ItemID(1)), SimilarQuery(k: 3, ranking: .cnn, explain: true), within: nil)))
        #expect(
            pure.allSatisfy { $0[4] == $0[1] && $0[5].isEmpty && $0[8] == "cnn" && $0[9] == "no" && $0[10].isEmpty },
            "\(pure)")
        // Without explain, the four columns only.
        let (plain, _) = try rows(service.answer(.similar(.id(ItemID(1)), SimilarQuery(k: 3), within: nil)))
        #expect(plain == ["rank", "score", "id", "path"])

        // An image sent as bytes is described as the files were: its own file comes first, with
        // the same hash (0 bits) and a CNN cosine of 1.
        let file = fixture.files.first { $0.hasSuffix("art2.png") }!
        let (_, byImage) = try rows(
            service.answerImage(Array(try Data(contentsOf: URL(fileURLWithPath: file))), query))
        #expect(byImage.first?[3] == file && byImage.first?[7] == "0", "\(byImage)")
        #expect(abs(Float(byImage.first![1])! - 1) <= 0.001)
        let region = try #require(Float(byImage.first![10]))
        #expect(byImage.first?[8] == "cnn" && region > 0.2 / 2.2, "its thumbnail matches: \(byImage.first!)")

        // By default a query by item leaves the region term out (its cost, Fusion.regionForItems),
        // scoring as the weights without it do; a query by image keeps it.
        let standard = CommandService(
            catalog: fixture.catalog, store: fixture.store, indexes: fixture.ingestor.indexes,
            network: try StandardSpaces.network(weights: convertedWeights, batchSize: 1, threads: 1),
            fusion: Fusion(weights: weights, candidates: 100, expansion: nil), logger: testLogger)
        let (_, byItem) = try rows(standard.answer(.similar(.id(ItemID(1)), query, within: nil)))
        let unweighted = CommandService(
            catalog: fixture.catalog, store: fixture.store, indexes: fixture.ingestor.indexes, network: nil,
            fusion: Fusion(weights: FusionWeights(style: 0.5, phash: 0.2), candidates: 100, expansion: nil),
            logger: testLogger)
        let (_, withoutRegion) = try rows(unweighted.answer(.similar(.id(ItemID(1)), query, within: nil)))
        #expect(byItem == withoutRegion, "the same answer as weights without the region term")
        #expect(byItem.allSatisfy { $0[10] == "0.0000" }, "\(byItem)")
        let (_, itemsExplained) = try rows(standard.answer(.explain(.id(ItemID(1)), items: [ItemID(2)])))
        #expect(itemsExplained.first?[7] == "0.0000", "\(itemsExplained)")
        let (_, imageAgain) = try rows(
            standard.answerImage(Array(try Data(contentsOf: URL(fileURLWithPath: file))), query))
        #expect(Float(imageAgain.first![10])! > 0, "\(imageAgain.first!)")
        let (_, status) = try rows(standard.answer(.status))
        #expect(status.contains(["similar_region_items", "no"]) && status.contains(["similar_region_weight", "0.5"]))
    }

    /// A crop sent by SIMILAR-IMAGE is found by its thumbnail: the region term picks out the
    /// picture it was cut from (the CNN sees half a picture as another one), the term is zero
    /// when its weight is, and a query whose thumbnail matches nothing gains nothing from it.
    @Test func aCropIsFoundInsideItsOriginalsThumbnail() throws {
        let fixture = try IngestFixture()
        _ = try fixture.ingestor.ingest(fixture.files)
        let file = fixture.files.first { $0.hasSuffix("art2.png") }!
        let original = composition(width: 340, height: 240, seed: 2)  // art2.png's pixels (IngestFixture)
        // 70 % of each side, off centre.
        let width = original.width * 7 / 10, height = original.height * 7 / 10
        var crop = RGBImage(width: width, height: height)
        for row in 0..<height {
            let start: Int = ((row + original.height - height) * original.width + (original.width - width)) * 3
            let to: Int = row * width * 3
            crop.pixels.replaceSubrange(to..<(to + width * 3), with: original.pixels[start..<(start + width * 3)])
        }
        let bytes = Fixtures.png(crop, kind: .rgb8)
        func answer(_ weights: FusionWeights) throws -> [[String]] {
            let service = CommandService(
                catalog: fixture.catalog, store: fixture.store, indexes: fixture.ingestor.indexes,
                network: try StandardSpaces.network(weights: convertedWeights, batchSize: 1, threads: 1),
                fusion: Fusion(weights: weights, candidates: 100, expansion: nil), logger: testLogger)
            return try rows(service.answerImage(bytes, SimilarQuery(k: 6, ranking: .fused, explain: true))).rows
        }
        let with = try answer(.standard), without = try answer(FusionWeights(style: 0.5, phash: 0.2))
        #expect(with.first?[3] == file, "\(with)")
        let standard = FusionWeights.standard.region
        let found = try #require(Float(with.first![10]))
        #expect(found > 0.5 * standard / (1.7 + standard), "\(with.first!)")
        #expect(without.allSatisfy { $0[10] == "0.0000" }, "\(without)")
        // Every other picture's thumbnail correlates with the crop much less.
        let others = with.dropFirst().map { Float($0[10]) ?? 1 }
        #expect(others.allSatisfy { $0 < found / 2 }, "\(with)")
    }

    /// Query expansion: a query with no candidate above `below` is scored against the unit mean
    /// of its CNN vector and the plain ranking's best `neighbours`, over the same candidates; one
    /// with a near copy keeps its plain ranking. The explain columns still add up to the score.
    @Test func queryExpansionScoresTheSameCandidatesAgainstTheExpandedQuery() throws {
        let fixture = try IngestFixture()
        _ = try fixture.ingestor.ingest(fixture.files)
        let weights = FusionWeights(style: 0.5, phash: 0.2)
        func service(_ expansion: Fusion.QueryExpansion?) throws -> CommandService {
            CommandService(
                catalog: fixture.catalog, store: fixture.store, indexes: fixture.ingestor.indexes,
                network: nil, fusion: Fusion(weights: weights, candidates: 100, expansion: expansion),
                logger: testLogger)
        }
        let query = SimilarQuery(k: 6, ranking: .fused, explain: true)
        let (_, plain) = try rows(try service(nil).answer(.similar(.id(ItemID(1)), query, within: nil)))
        // below 1: every query without an identical neighbour is expanded.
        let (_, expanded) = try rows(
            try service(.init(neighbours: 2, below: 1)).answer(.similar(.id(ItemID(1)), query, within: nil)))
        let (_, notExpanded) = try rows(
            try service(.init(neighbours: 2, below: 0)).answer(.similar(.id(ItemID(1)), query, within: nil)))
        #expect(notExpanded == plain, "below 0: no query is expanded")
        #expect(plain.allSatisfy { $0[9] == "no" } && expanded.allSatisfy { $0[9] == "yes" }, "\(expanded)")
        func vector(_ id: String) throws -> [Float] {
            try #require(try fixture.store.vector(ItemID(UInt64(id)!), space: "cnn"))
        }
        var mean = try vector("1")
        for row in plain.prefix(2) { for (d, x) in try vector(row[2]).enumerated() { mean[d] += x } }
        let norm = dot(mean, mean).squareRoot()
        mean = mean.map { $0 / norm }
        let total: Float = 1 + 0.5 + 0.2
        var previous = Float.infinity
        for row in expanded {
            let score = Float(row[1])!, parts = row[4...6].map { Float($0)! }
            #expect(abs(parts.reduce(0, +) - score) <= 0.0002 && score <= previous, "\(row)")
            previous = score
            #expect(abs(parts[0] - dot(mean, try vector(row[2])) / total) <= 0.0002, "\(row)")
        }
        // STATUS says whether and how queries are expanded.
        let (_, on) = try rows(try service(.standard).answer(.status))
        #expect(on.contains(["similar_expand_neighbours", "2"]) && on.contains(["similar_expand_below", "0.9"]))
        let (_, off) = try rows(try service(nil).answer(.status))
        #expect(off.contains(["similar_expand_neighbours", "0"]) && off.contains(["similar_expand_below", ""]))
        // The CNN vectors kept from the walk's exact re-rank rank as reading them from the store.
        let probe = try #require(try Fusion(weights: weights).probe(of: ItemID(1), store: fixture.store))
        let found = try fixture.ingestor.indexes.cnn.search(probe.cnn, k: 20, ef: 64, filter: { $0 != 1 })
        let recorded = try fixture.store.withReader(space: "cnn") { reader in
            let recorder = RecordedVectors.Recorder(reader, dimension: Space.cnn.dimension)
            for neighbour in found { _ = recorder.withVector(neighbour.label) { _ in () } }
            return recorder.recorded
        }
        #expect(recorded.count == found.count)
        // Each recorded vector is the store's, bit for bit; a label the store lacks is not
        // recorded, and one served twice is recorded once.
        try fixture.store.withReader(space: "cnn") { reader in
            let recorder = RecordedVectors.Recorder(reader, dimension: Space.cnn.dimension, expected: 2)
            let label = found[0].label
            let first = recorder.withVector(label) { Array($0) }
            #expect(recorder.withVector(999_999) { _ in () } == nil)
            let again = recorder.withVector(label) { Array($0) }
            #expect(first != nil && first == again && first == reader.withVector(label) { Array($0) })
            #expect(recorder.recorded.count == 1)
            // Many at once (a re-rank's read): each as the store has it, a missing label nil and
            // not recorded, a repeated one recorded once, and the rows recorded before kept.
            let labels = [found[1].label, 999_998, found[2].label, found[1].label, label, found[3].label]
            var served: [[Float]?] = []
            recorder.forEachVector(labels) { _, vector in served.append(vector.map(Array.init)) }
            #expect(served.count == labels.count && served[1] == nil)
            for (i, l) in labels.enumerated() where i != 1 {
                #expect(served[i] != nil && served[i] == reader.withVector(l) { Array($0) }, "label \(l)")
            }
            #expect(recorder.recorded.count == 4)
            #expect(recorder.recorded.withVector(label) { Array($0) } == first)
            #expect(recorder.recorded.withVector(999_998) { _ in () } == nil)
        }
        let always = Fusion(weights: weights, candidates: 100, expansion: .init(neighbours: 2, below: 1))
        let fromStore = try always.rerank(found, probe: probe, k: 6, store: fixture.store)
        let kept = try always.rerank(found, probe: probe, k: 6, store: fixture.store, cnns: recorded)
        #expect(fromStore.map(\.label) == kept.map(\.label))
        #expect(zip(fromStore, kept).allSatisfy { abs($0.terms.score - $1.terms.score) <= 1e-6 && $0.expanded })
        // The plain ranking's style and hash terms are unchanged for the same neighbour.
        let plainTerms = Dictionary(uniqueKeysWithValues: plain.map { ($0[2], $0[5...7]) })
        for row in expanded { if let terms = plainTerms[row[2]] { #expect(terms == row[5...7], "\(row)") } }
    }

    /// The hashes held in memory (`LiveHashes`) are the store's through every change ingestion
    /// makes (a changed file, a removed one, a copy of another's bytes) and after a reopen, and
    /// the fused ranking reads the same from them, and from the style index's rows, as from the
    /// store.
    @Test func heldHashesAreTheStoresThroughChanges() throws {
        let fixture = try IngestFixture()
        _ = try fixture.ingestor.ingest(fixture.files)
        func expectHeldAsStored(_ indexes: LiveIndexes, _ when: String) throws {
            indexes.hashes.waitUntilLoaded()
            let (ids, bytes) = try fixture.store.readAll(space: "phash", as: UInt8.self)
            let stored = ids.enumerated().map { i, _ in PerceptualHash.word(bytes[(i * 8)..<(i * 8 + 8)]) }
            let asked = ids.map(\.rawValue) + [999_999]
            #expect(indexes.hashes.hashes(of: asked) == stored + [nil], "\(when)")
            #expect(indexes.hashes.count == ids.count, "\(when)")
        }
        let indexes = fixture.ingestor.indexes
        try expectHeldAsStored(indexes, "after the first ingestion")
        let art1 = fixture.images.appendingPathComponent("art1.jpg")
        try Data(Fixtures.jpeg(composition(width: 280, height: 200, seed: 41))).write(to: art1)
        try FileManager.default.copyItem(
            at: fixture.images.appendingPathComponent("art2.png"),
            to: fixture.images.appendingPathComponent("copy of art2.png"))
        _ = try fixture.ingestor.ingest([art1.path, fixture.images.appendingPathComponent("copy of art2.png").path])
        try expectHeldAsStored(indexes, "after a change and a copy")
        let removed = try #require(
            try fixture.catalog.item(path: fixture.images.appendingPathComponent("art5.png").path))
        #expect(try fixture.ingestor.remove(path: removed.path))
        try expectHeldAsStored(indexes, "after a removal")
        #expect(indexes.hashes.hashes(of: [try #require(removed.itemID).rawValue]) == [nil])
        let state = StatePaths(root: fixture.root.appendingPathComponent("state"))
        try expectHeldAsStored(
            try LiveIndexes.open(paths: state, store: fixture.store, logger: testLogger).0, "reopened")

        let fusion = Fusion(weights: FusionWeights(style: 0.5, phash: 0.2), candidates: 100)
        let probe = try #require(try fusion.probe(of: ItemID(1), store: fixture.store))
        let found = try indexes.cnn.search(probe.cnn, k: 20, ef: 64, filter: { $0 != 1 })
        let fromStore = try fusion.rerank(found, probe: probe, k: 6, store: fixture.store)
        let fromMemory = try fusion.rerank(
            found, probe: probe, k: 6, store: fixture.store, styles: indexes.style.index, hashes: indexes.hashes)
        #expect(fromStore.map(\.label) == fromMemory.map(\.label))
        // The style index holds its rows scaled to unit length once more, a rounding apart.
        #expect(
            zip(fromStore, fromMemory).allSatisfy {
                $0.terms.cnn == $1.terms.cnn && $0.terms.phashBits == $1.terms.phashBits
                    && abs($0.terms.style - $1.terms.style) <= 1e-6
            }, "\(fromStore) \(fromMemory)")
        // A hash or a style row memory lacks is read from the store.
        let partial = LiveHashes(LabelTable(found.prefix(3).map { ($0.label, UInt64(0)) }))
        let mixed = try fusion.rerank(found, probe: probe, k: 20, store: fixture.store, hashes: partial)
        let expected = try fusion.rerank(found, probe: probe, k: 20, store: fixture.store)
        let probeWord = try #require(PerceptualHash.word(probe.phash))
        for ranked in mixed {
            let other = try #require(expected.first { $0.label == ranked.label })
            let held = found.prefix(3).contains { $0.label == ranked.label }
            #expect(ranked.terms.phashBits == (held ? probeWord.nonzeroBitCount : other.terms.phashBits))
        }
    }

    /// The fused ranking as kindredd runs it, where only the walk's nearest 3k by the int8 codes
    /// are read exactly and the rest of the pool carries the codes' distances, answers what the
    /// ranking over exact distances for the whole pool answers, with exact scores on every row:
    /// over 3,000 synthetic items in 40 clusters, so that many candidates are near each other.
    @Test func rankingFewCandidatesExactlyAnswersAsRankingAllExactly() throws {
        let state = StatePaths(root: temporaryDirectory("fused-exact").appendingPathComponent("state"))
        try state.create()
        let store = try VectorStore(directory: state.vectors, spaces: StandardSpaces.all, logger: testLogger)
        var random = SeededRandom(seed: 19)
        func unit(_ vector: [Float]) -> [Float] {
            let norm = dot(vector, vector).squareRoot()
            return vector.map { $0 / norm }
        }
        let centres = (0..<40).map { _ in (0..<1280).map { _ in random.normal() } }
        let count = 3000
        try store.write { txn throws(VectorStoreError) in
            for item in 1...count {
                let centre = centres[item % centres.count]
                let cnn = unit(centre.map { $0 + 1.2 * random.normal() })
                let style = unit((0..<142).map { _ in random.unit() })
                try txn.put(ItemID(UInt64(item)), cnn, space: "cnn")
                try txn.put(ItemID(UInt64(item)), style, space: "style")
                try txn.put(ItemID(UInt64(item)), PerceptualHash.bytes(random.next()), space: "phash")
            }
        }
        let (indexes, _) = try LiveIndexes.open(paths: state, store: store, logger: testLogger)
        indexes.hashes.waitUntilLoaded()
        #expect(indexes.cnn.index.encoding == .int8)
        let fusion = Fusion(weights: .standard, candidates: 64, expansion: .init(neighbours: 2, below: 1.01))
        let k = 10
        var same = 0, beyondTheWalksReads = 0
        for query in stride(from: 1, through: count, by: 60) {
            let probe = try #require(try fusion.probe(of: ItemID(UInt64(query)), store: store))
            let except = UInt64(query)
            // Every candidate's distance exact: the reference.
            let all = try indexes.cnn.search(probe.cnn, k: 64, ef: 64, excluding: except)
            let reference = try fusion.rerank(all, probe: probe, k: 64, store: store)
            // kindredd's way.
            let (found, held) = try indexes.cnn.searchRecording(
                probe.cnn, k: 64, ef: 64, exactly: indexes.cnn.index.rerankDepth(k: k, ef: 64), excluding: except)
            var heldCount = 0
            held.forEachVector(found.map(\.label)) { _, vector in heldCount += vector == nil ? 0 : 1 }
            #expect(heldCount == 3 * k, "the walk's nearest 3k read, not the pool")
            let answer = try fusion.rerank(
                found, probe: probe, k: k, store: store, styles: indexes.style.index, hashes: indexes.hashes,
                cnns: held, codes: indexes.cnn.index)
            #expect(answer.count == k && answer.allSatisfy(\.expanded))
            held.forEachVector(answer.map(\.label)) { _, vector in beyondTheWalksReads += vector == nil ? 1 : 0 }
            if answer.map(\.label) == reference.prefix(k).map(\.label) { same += 1 }
            // Every row's terms are exact: what the reference gives the same candidate.
            for row in answer {
                let exact = try #require(reference.first { $0.label == row.label })
                #expect(abs(row.terms.score - exact.terms.score) <= 2e-5, "query \(query): \(row) \(exact)")
                #expect(row.terms.phashBits == exact.terms.phashBits)
            }
        }
        #expect(same >= 48, "\(same) of 50 queries answered as the reference")
        // Rows the walk's exact re-rank had not read, read by the ranking itself (exact, as above;
        // 117 of 500 when written).
        #expect(beyondTheWalksReads >= 50, "\(beyondTheWalksReads) rows of 500")
    }

    /// A colourless probe's style term compares only the colour-free parts of the two vectors.
    @Test func aColourlessProbeComparesStylesWithoutColour() throws {
        let fixture = try IngestFixture()
        _ = try fixture.ingestor.ingest(fixture.files)
        let fusion = Fusion(weights: FusionWeights(style: 0.5, phash: 0.2))
        let stored = try #require(try fusion.probe(of: ItemID(1), store: fixture.store))
        #expect(!stored.isColourless)
        var grey = RGBImage(width: 64, height: 48)
        for i in 0..<(64 * 48) { for c in 0..<3 { grey.pixels[i * 3 + c] = UInt8((i * 7) % 256) } }
        let style = StyleDescriptor.compute(grey)
        let probe = Fusion.Probe(cnn: stored.cnn, style: style, phash: stored.phash, thumbnail: stored.thumbnail)
        #expect(probe.isColourless)
        let other = ItemID(2)
        let terms = try #require(try fusion.explain([other], against: probe, store: fixture.store)[0])
        let otherStyle = try #require(try fixture.store.vector(other, space: "style"))
        let expected = dot(StyleDescriptor.colourFree(style), StyleDescriptor.colourFree(otherStyle))
        #expect(abs(terms.style - 0.5 * expected / 1.7) <= 1e-5, "\(terms.style) vs \(0.5 * expected / 1.7)")
        #expect(abs(expected - dot(style, otherStyle)) > 1e-3, "the colour-free cosine is not the whole one")
    }

    func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}

/// The hashes' load runs beside changes: what changed while the store was read wins over what
/// the read found, in the order the changes were made.
@Suite struct LiveHashesTests {
    @Test func changesMadeWhileLoadingWinOverTheLoad() throws {
        let reading = DispatchSemaphore(value: 0)
        let hashes = LiveHashes.loading(logger: testLogger) {
            reading.wait()
            return [1: 0x11, 2: 0x22, 3: 0x33]
        }
        hashes.set(PerceptualHash.bytes(0x99), label: 2)
        hashes.remove(label: 3)
        hashes.set(PerceptualHash.bytes(0x44), label: 4)
        hashes.set(PerceptualHash.bytes(0x45), label: 4)
        hashes.remove(label: 5)
        #expect(hashes.hashes(of: [1, 2, 3, 4]) == [nil, 0x99, nil, 0x45], "before the load: the changes only")
        reading.signal()
        hashes.waitUntilLoaded()
        #expect(hashes.hashes(of: [1, 2, 3, 4, 5]) == [0x11, 0x99, nil, 0x45, nil])
        #expect(hashes.count == 3)
        // After the load, changes go straight to the table; a hash not of 8 bytes is not held.
        hashes.set([1, 2, 3], label: 1)
        #expect(hashes.hashes(of: [1]) == [nil])
    }

    @Test func aFailedLoadLeavesTheHashesToTheStore() throws {
        struct Unreadable: Error {}
        let hashes = LiveHashes.loading(logger: testLogger) { throw Unreadable() }
        hashes.waitUntilLoaded()
        #expect(hashes.count == 0)
        hashes.set(PerceptualHash.bytes(7), label: 9)
        #expect(hashes.hashes(of: [9]) == [7])
    }
}
