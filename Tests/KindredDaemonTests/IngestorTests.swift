import Foundation
import KindredCore
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredProtocol
import KindredServer
import KindredStore
import KindredTestSupport
import Logging
import Testing

@testable import KindredEngine

/// A state directory and a collection of images in several formats, plus two broken files.
struct IngestFixture {
    let root: URL
    let images: URL
    let catalog: Catalog
    let store: VectorStore
    let ingestor: Ingestor

    init() throws {
        root = temporaryDirectory("ingest")
        images = root.appendingPathComponent("art")
        try FileManager.default.createDirectory(
            at: images.appendingPathComponent("sub dir"), withIntermediateDirectories: true)
        for seed in UInt64(1)...6 {
            let image = composition(width: 300 + Int(seed) * 20, height: 240, seed: seed)
            let bytes =
                seed % 3 == 0
                ? Fixtures.webp(image) : seed % 3 == 1 ? Fixtures.jpeg(image) : Fixtures.png(image, kind: .rgb8)
            let name = "art\(seed)." + (seed % 3 == 0 ? "webp" : seed % 3 == 1 ? "jpg" : "png")
            try Data(bytes).write(to: images.appendingPathComponent(seed == 6 ? "sub dir/" + name : name))
        }
        try Data("not an image".utf8).write(to: images.appendingPathComponent("notes.jpg"))
        try Data(Fixtures.jpeg(composition(width: 64, height: 64, seed: 99)).prefix(300)).write(
            to: images.appendingPathComponent("truncated.jpg"))
        let state = StatePaths(root: root.appendingPathComponent("state"))
        try state.create()
        catalog = try Catalog(url: state.catalog, logger: testLogger)
        store = try VectorStore(directory: state.vectors, spaces: StandardSpaces.all, logger: testLogger)
        let (indexes, _) = try LiveIndexes.open(paths: state, store: store, logger: testLogger)
        ingestor = Ingestor(
            state: StateStore(catalog: catalog, vectors: store), indexes: indexes,
            network: try StandardSpaces.network(weights: convertedWeights, batchSize: 4, threads: 2),
            threads: 2, logger: testLogger)
    }

    /// A fixture whose images' folder is a root, with every file ingested: a collection for the
    /// query side to be asked about.
    static func ingested() throws -> IngestFixture {
        let c = try IngestFixture()
        try c.catalog.addRoot(CollectionPath(c.images.path))
        _ = try c.ingestor.ingest(c.files)
        return c
    }

    var files: [String] {
        FileManager.default.enumerator(atPath: images.path)!.compactMap { $0 as? String }.map {
            images.appendingPathComponent($0).path
        }
        .filter { !$0.hasSuffix("sub dir") }.sorted()
    }
}

extension IngestFixture {
    /// `new` (a file in `images`) took `old`'s vectors and file facts instead of being described:
    /// a row of its own with the same facts, class and vectors in every space, and an index node
    /// among the `among` nearest to that vector, beside `old`'s.
    func expectTook(_ new: String, from old: String, among: Int) throws {
        let taken = try #require(try catalog.item(path: images.appendingPathComponent(new).path))
        let described = try #require(try catalog.item(path: images.appendingPathComponent(old).path))
        let (a, b) = (try #require(taken.itemID), try #require(described.itemID))
        #expect(a != b && taken.status == .indexed)
        #expect(
            taken.contentHash == described.contentHash && taken.width == described.width
                && taken.height == described.height && taken.format == described.format, "\(new)")
        #expect(try catalog.imagenetClasses([a]) == catalog.imagenetClasses([b]))
        for space in [StandardSpaces.cnn, StandardSpaces.style] {
            #expect(try store.vector(a, space: space.name) == store.vector(b, space: space.name))
        }
        for space in [StandardSpaces.phash, StandardSpaces.thumb] {
            #expect(
                try store.vector(a, space: space.name, as: UInt8.self)
                    == store.vector(b, space: space.name, as: UInt8.self))
        }
        let vector = try #require(try store.vector(a, space: StandardSpaces.cnn.name))
        let nearest = Set(try ingestor.indexes.cnn.index.search(vector, k: among).map(\.label))
        #expect(nearest.isSuperset(of: [a.rawValue, b.rawValue]), "\(new)")
    }
}

@Suite struct IngestorTests {
    @Test func ingestsEveryFormatRecordsFailuresAndSkipsUnchangedFiles() throws {
        let c = try IngestFixture()
        let report = try c.ingestor.ingest(c.files)
        #expect(report == Ingestor.Report(indexed: 6, unchanged: 0, failed: 2, missing: 0))
        #expect(try c.catalog.statusCounts() == [.indexed: 6, .failed: 2, .queued: 0])
        for space in StandardSpaces.all { #expect(try c.store.count(space: space.name) == 6, "\(space.name)") }
        #expect(c.ingestor.indexes.cnn.index.count == 6)
        let notes = try #require(try c.catalog.item(path: c.images.appendingPathComponent("notes.jpg").path))
        #expect(
            notes.status == .failed
                && notes.error == ImageFormat.unrecognisedReason)
        let truncated = try #require(try c.catalog.item(path: c.images.appendingPathComponent("truncated.jpg").path))
        #expect(truncated.error?.contains("JPEG") == true)
        let webp = try #require(try c.catalog.item(path: c.images.appendingPathComponent("art3.webp").path))
        #expect(webp.format == "webp" && webp.width == 360 && webp.height == 240 && webp.contentHash != nil)

        // Every indexed image finds itself first through the live index.
        for id in try c.catalog.itemIDs(status: .indexed) {
            let vector = try #require(try c.store.vector(id, space: "cnn"))
            #expect(try c.ingestor.indexes.cnn.index.search(vector, k: 1).first?.label == id.rawValue)
        }

        // Nothing changed: nothing is extracted again, failures included.
        #expect(try c.ingestor.ingest(c.files) == Ingestor.Report(indexed: 0, unchanged: 8, failed: 0, missing: 0))

        // A changed file is extracted again under the same id.
        let changed = c.images.appendingPathComponent("art1.jpg")
        let before = try #require(try c.catalog.item(path: changed.path))
        try Data(Fixtures.jpeg(composition(width: 200, height: 200, seed: 42))).write(to: changed)
        #expect(try c.ingestor.ingest([changed.path]).indexed == 1)
        let after = try #require(try c.catalog.item(path: changed.path))
        #expect(after.id == before.id && after.width == 200 && after.contentHash != before.contentHash)
        #expect(c.ingestor.indexes.cnn.index.count == 6)

        // A missing path is counted, not failed.
        #expect(try c.ingestor.ingest([c.images.appendingPathComponent("gone.png").path]).missing == 1)
    }

    /// What ingestion stores for a picture is StandardSpaces': in its precision, the
    /// root-mean-square pooled, unit-length CNN vector of the picture as framed, and the class the
    /// network's own (mean-pooled) classifier ranks first.
    @Test func storesTheStandardPoolingAndTheNetworksClass() throws {
        let c = try IngestFixture()
        _ = try c.ingestor.ingest(c.files)
        let path = c.images.appendingPathComponent("art2.png").path
        let id = try #require(try c.catalog.item(path: path)?.itemID)
        let image = StandardSpaces.framing.prepare(try ImageDecoder.decode(file: URL(fileURLWithPath: path)).image)
        // In the arithmetic ingestion runs on this CPU (StandardSpaces.precision where it is fast).
        let reference = try EfficientNetLite0(
            weights: convertedWeights, batchSize: 1, threads: 1, precision: StandardSpaces.precision.onThisCPU.precision
        )
        let (meanFeatures, logits) = reference.run(images: [image], framing: StandardSpaces.framing, logits: true)
        let rms = try StandardSpaces.network(weights: convertedWeights, batchSize: 1, threads: 1)
            .embed([image], framing: StandardSpaces.framing)
        let stored = try #require(try c.store.vector(id, space: StandardSpaces.cnn.name))
        // float16 storage: within 2⁻¹¹ a component of a unit vector.
        #expect(zip(stored, rms).allSatisfy { abs($0 - $1) <= 1e-3 })
        var mean = meanFeatures
        normalizeRows(&mean, dimension: 1280)
        #expect(zip(stored, mean).contains { abs($0 - $1) > 1e-2 }, "stored vectors are not the mean's")
        let top = logits.indices.max { logits[$0] < logits[$1] }!
        #expect(try c.catalog.imagenetClasses([id]) == [top])
        let failed = try #require(try c.catalog.item(path: c.images.appendingPathComponent("notes.jpg").path)?.itemID)
        #expect(try c.catalog.imagenetClasses([failed, id]) == [nil, top])
        // A touched file (same bytes, new time) is confirmed, not extracted again: its class stays.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: path)
        #expect(try c.ingestor.ingest([path]) == Ingestor.Report(indexed: 0, unchanged: 1, failed: 0, missing: 0))
        #expect(try c.catalog.imagenetClasses([id]) == [top])
    }

    /// Where ingestion's time goes (STATUS `ingest_<stage>_s`): every stage a file passes through
    /// is charged, a large PNG's shrinking as `resample`, and a touched file costs a read and a
    /// hash but no decode.
    @Test func accountsItsTimeStageByStage() throws {
        let c = try IngestFixture()
        // Larger than the describers' size, so the streaming resampler shrinks it as it decodes.
        try Data(Fixtures.png(composition(width: 1200, height: 900, seed: 7), kind: .rgb8)).write(
            to: c.images.appendingPathComponent("big.png"))
        let begun = ContinuousClock.now
        #expect(try c.ingestor.ingest(c.files) == Ingestor.Report(indexed: 7, unchanged: 0, failed: 2, missing: 0))
        let wall = ContinuousClock.now - begun
        let clock = c.ingestor.stages
        #expect(clock.files == 9, "every file read, the two that fail included")
        let work = PipelineStage.allCases.filter { $0 != .waiting }
        for stage in work { #expect(clock.seconds(stage) > 0, "\(stage)") }
        // Thread-seconds: at most two decode workers, the consuming thread, and the index's
        // inserts on both threads while the consumer waits for them.
        #expect(work.map(clock.seconds).reduce(0, +) <= 4 * wall.seconds)
        #expect(clock.seconds(.waiting) <= wall.seconds)

        let path = c.images.appendingPathComponent("big.png").path
        let (read, hash, decode) = (clock.seconds(.read), clock.seconds(.hash), clock.seconds(.decode))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: path)
        #expect(try c.ingestor.ingest([path]) == Ingestor.Report(indexed: 0, unchanged: 1, failed: 0, missing: 0))
        #expect(clock.files == 10 && clock.seconds(.read) > read && clock.seconds(.hash) > hash)
        #expect(clock.seconds(.decode) == decode, "a touched file is not decoded again")
    }

    /// A new path to bytes already described (a symbolic or hard link, a copy) takes the described
    /// item's vectors and file facts instead of being decoded and run through the network again.
    @Test func pathsToBytesAlreadyDescribedTakeTheirVectors() throws {
        let c = try IngestFixture()
        _ = try c.ingestor.ingest(c.files)
        let clock = c.ingestor.stages
        let (decode, cnn) = (clock.seconds(.decode), clock.seconds(.cnn))
        func url(_ name: String) -> URL { c.images.appendingPathComponent(name) }
        try FileManager.default.createSymbolicLink(at: url("soft.png"), withDestinationURL: url("art2.png"))
        try FileManager.default.linkItem(at: url("art1.jpg"), to: url("hard.jpg"))
        try FileManager.default.copyItem(at: url("art3.webp"), to: url("copy.webp"))
        let pairs = [("soft.png", "art2.png"), ("hard.jpg", "art1.jpg"), ("copy.webp", "art3.webp")]
        #expect(try c.ingestor.ingest(pairs.map { url($0.0).path }) == Ingestor.Report(indexed: 3))
        #expect(clock.seconds(.decode) == decode && clock.seconds(.cnn) == cnn, "nothing decoded or embedded")
        #expect(clock.shared == 3)
        for (new, old) in pairs { try c.expectTook(new, from: old, among: 2) }
        // A file whose bytes were art1.jpg's while art1.jpg itself changes in the same call (an
        // earlier chunk committing its new vectors before this one's): it must end up with the
        // vectors of the bytes it has, whichever way the lookup raced the change.
        let art1 = try #require(try c.catalog.item(path: url("art1.jpg").path)?.itemID)
        let before = try #require(try c.store.vector(art1, space: StandardSpaces.cnn.name))
        #expect(try c.ingestor.remove(path: url("hard.jpg").path), "no other item keeps art1.jpg's old bytes")
        try FileManager.default.removeItem(at: url("hard.jpg"))
        try FileManager.default.copyItem(at: url("art1.jpg"), to: url("z-was-art1.jpg"))
        try Data(Fixtures.jpeg(composition(width: 260, height: 200, seed: 77))).write(to: url("art1.jpg"))
        var paths = [url("art1.jpg").path]
        for n in 0..<9 {
            try Data(Fixtures.png(composition(width: 200, height: 200 + n, seed: 300 + UInt64(n)), kind: .rgb8))
                .write(to: url("filler\(n).png"))
            paths.append(url("filler\(n).png").path)
        }
        paths.append(url("z-was-art1.jpg").path)
        #expect(try c.ingestor.ingest(paths).indexed == 11)
        let was = try #require(try c.catalog.item(path: url("z-was-art1.jpg").path)?.itemID)
        #expect(try c.store.vector(was, space: StandardSpaces.cnn.name) == before)
        #expect(try c.store.vector(art1, space: StandardSpaces.cnn.name) != before)

        // With no described item left to take them from, a copy is described as any file.
        try FileManager.default.copyItem(at: url("art5.png"), to: url("copy5.png"))
        _ = try c.ingestor.remove(path: url("art5.png").path)
        #expect(try c.ingestor.ingest([url("copy5.png").path]) == Ingestor.Report(indexed: 1))
        #expect(clock.seconds(.decode) > decode && clock.seconds(.cnn) > cnn)
    }

    /// Files with the same bytes that arrive together (a link or a copy beside its target, in
    /// one chunk) are described once: the first claims the bytes, the others take its vectors
    /// once the network has run, or its refusal.
    @Test func sameBytesInOneCallAreDescribedOnce() throws {
        let c = try IngestFixture()
        func url(_ name: String) -> URL { c.images.appendingPathComponent(name) }
        try FileManager.default.createSymbolicLink(at: url("soft.png"), withDestinationURL: url("art2.png"))
        try FileManager.default.copyItem(at: url("art3.webp"), to: url("copy.webp"))
        try FileManager.default.copyItem(at: url("art3.webp"), to: url("copy2.webp"))
        try FileManager.default.copyItem(at: url("notes.jpg"), to: url("notes copy.jpg"))
        // The pairs first, so they share the first chunk (threads × batch size = 8 files).
        let together = ["art2.png", "soft.png", "art3.webp", "copy.webp", "copy2.webp", "notes.jpg", "notes copy.jpg"]
        let paths = together.map { url($0).path }
        let report = try c.ingestor.ingest(paths + c.files.filter { !paths.contains($0) })
        #expect(report == Ingestor.Report(indexed: 9, failed: 3))
        #expect(c.ingestor.stages.shared == 3, "the link and both copies took vectors")
        #expect(c.ingestor.stages.files == 12, "each file read once: none described again after all")
        // (art3.webp and its two copies share one vector: the three are the nearest three.)
        for (new, old, among) in [
            ("soft.png", "art2.png", 2), ("copy.webp", "art3.webp", 3), ("copy2.webp", "art3.webp", 3),
        ] {
            try c.expectTook(new, from: old, among: among)
        }
        // A copy of a file that cannot be read is refused for the same reason.
        let notes = try #require(try c.catalog.item(path: url("notes.jpg").path))
        let copy = try #require(try c.catalog.item(path: url("notes copy.jpg").path))
        #expect(notes.status == .failed && copy.status == .failed && copy.error == notes.error)
        #expect(
            try StateStore(catalog: c.catalog, vectors: c.store).repair(
                requiredSpaces: ["cnn", "style", "phash"], logger: testLogger) == RepairReport())
    }

    @Test func removalTakesRowVectorsAndIndexEntry() throws {
        let c = try IngestFixture()
        _ = try c.ingestor.ingest(c.files)
        let path = c.images.appendingPathComponent("art2.png").path
        let id = try #require(try c.catalog.item(path: path)?.itemID)
        let vector = try #require(try c.store.vector(id, space: "cnn"))
        #expect(try c.ingestor.remove(path: path))
        #expect(try c.catalog.item(path: path) == nil)
        // (Each space read as what it holds: asking a byte space for floats is refused.)
        for space in StandardSpaces.all {
            let gone =
                space.element == .uint8
                ? try c.store.vector(id, space: space.name, as: UInt8.self) == nil
                : try c.store.vector(id, space: space.name, as: Float.self) == nil
            #expect(gone, "\(space.name)")
        }
        #expect(try c.ingestor.indexes.cnn.index.search(vector, k: 5).allSatisfy { $0.label != id.rawValue })
        #expect(try !c.ingestor.remove(path: path))
        #expect(
            try StateStore(catalog: c.catalog, vectors: c.store).repair(
                requiredSpaces: ["cnn", "style", "phash"], logger: testLogger) == RepairReport())
    }

    /// Removed items leave tombstones in the live indexes; once they are worth it, compaction
    /// detaches them and every remaining item is still found, by itself first.
    @Test func tombstonesAreCompactedWhenTheyAreWorthIt() throws {
        let c = try IngestFixture()
        _ = try c.ingestor.ingest(c.files)
        let ids = try c.catalog.itemIDs(status: .indexed)
        for id in ids.prefix(4) { #expect(try c.ingestor.remove(path: try #require(try c.catalog.item(id)?.path))) }
        #expect(c.ingestor.indexes.cnn.index.deletedCount == 4)
        #expect(c.ingestor.indexes.compactIfWorthIt(fraction: 0.1, minimum: 5).isEmpty, "below the minimum: left alone")
        #expect(c.ingestor.indexes.compactIfWorthIt(fraction: 0.1, minimum: 1) == ["cnn": 4, "style": 4])
        for live in c.ingestor.indexes.all {
            #expect(live.index.deletedCount == 0 && live.index.count == 2)
            for id in ids.dropFirst(4) {
                let vector = try #require(try c.store.vector(id, space: live.space))
                #expect(
                    try live.index.search(vector, k: 1).first?.label == id.rawValue,
                    "\(live.space) finds \(id) after compaction")
            }
        }
    }

    /// A newer build whose style descriptor has a new producer version: every item's style
    /// vector is stale, so the items are marked for re-extraction (their content hash cleared)
    /// and the next scan extracts them again, although their files did not change. Meanwhile they
    /// stay indexed, answering from their older vectors: an upgrade takes nothing off the air.
    @Test func aProducerVersionBumpReextracts() throws {
        let c = try IngestFixture()
        let files = c.files
        _ = try c.ingestor.ingest(files)
        var bumped = StandardSpaces.all
        bumped[1].producer += 1
        #expect(bumped[1].name == "style")
        // The fixture's store stays open; a second environment on the same files in this
        // process is what LMDB forbids, so the check reads through a copy of the state.
        let copy = StatePaths(root: c.root.appendingPathComponent("copy"))
        try c.ingestor.state.backup(to: copy)
        let store = try VectorStore(directory: copy.vectors, spaces: bumped, logger: testLogger)
        let catalog = try Catalog(url: copy.catalog, logger: testLogger)
        #expect(try store.staleItems(space: "style").count == 6 && store.staleItems(space: "cnn").isEmpty)
        let (indexes, _) = try LiveIndexes.open(paths: copy, store: store, logger: testLogger)
        let ingestor = Ingestor(
            state: StateStore(catalog: catalog, vectors: store), indexes: indexes,
            network: try StandardSpaces.network(weights: convertedWeights, batchSize: 4, threads: 2), threads: 2,
            logger: testLogger)
        let before = try catalog.statusCounts()
        #expect(try ingestor.state.markStale(spaces: bumped.map(\.name)) == 6)
        #expect(try catalog.statusCounts() == before, "every item keeps its status: \(before)")
        #expect(try catalog.awaitingReextraction() == 6)
        // Through the daemon's own answers: every stale item is still a query, and STATUS counts them.
        let service = CommandService(catalog: catalog, store: store, indexes: indexes, logger: testLogger)
        for id in try store.staleItems(space: "style") {
            let item = try #require(try catalog.item(id))
            #expect(item.status == .indexed && item.awaitsReextraction)
            for ranking in [Ranking.cnn, .fused] {
                let answer = service.answer(.similar(.id(id), SimilarQuery(k: 3, ranking: ranking), within: nil))
                #expect(try answer.get().rows.count == 3, "\(item.path) answers meanwhile (\(ranking)): \(answer)")
            }
        }
        let status = try service.answer(.status).get().rows
        #expect(status.first { $0.first == "stale" }?.last == "6")
        let report = try ingestor.ingest(files)
        #expect(
            report.indexed == 6 && report.unchanged == 2,
            "the six re-extracted, the two broken files unchanged: \(report)")
        #expect(try store.staleItems(space: "style").isEmpty && catalog.statusCounts()[.indexed] == 6)
        #expect(try catalog.awaitingReextraction() == 0)
        // Extracted once: the next pass over the same files finds nothing to do.
        #expect(try ingestor.ingest(files).indexed == 0)
    }

    @Test func liveIndexReconcilesASnapshotWithTheStore() throws {
        let c = try IngestFixture()
        _ = try c.ingestor.ingest(c.files)
        let snapshot = c.root.appendingPathComponent("index.hnsw")
        try c.ingestor.indexes.cnn.index.save(to: snapshot)
        // After the snapshot: one more item, one removed.
        let removed = try #require(try c.catalog.itemIDs(status: .indexed).first)
        try c.store.write { txn throws(VectorStoreError) in
            _ = try txn.delete(removed)
            try txn.put(ItemID(999), [Float](repeating: 0.03, count: 1280), space: "cnn")
        }
        let encoding = c.ingestor.indexes.cnn.index.encoding
        #expect(encoding == .int8, "the CNN index walks int8 codes by default")
        let (reopened, report) = try LiveIndex.open(
            snapshot: snapshot, store: c.store, space: "cnn", encoding: encoding, logger: testLogger)
        #expect(
            report == LiveIndex.OpenReport(loadedSnapshot: true, added: 1, removed: 1, rebuilt: false, reconciled: true)
        )
        // Its answers are re-ranked against the store: exact scores, the item itself first.
        let query = try #require(try c.store.vector(ItemID(999), space: "cnn"))
        let hits = try reopened.search(query, k: 3, ef: 16)
        #expect(hits.first?.label == 999 && abs(hits.first!.distance) < 1e-5)
        // A snapshot in another encoding than the one configured keeps its graph, its rows
        // written afresh from the store in the new encoding; then it is reconciled as usual.
        for other in [VectorEncoding.float32, .int4] {
            let (converted, change) = try LiveIndex.open(
                snapshot: snapshot, store: c.store, space: "cnn", encoding: other, logger: testLogger)
            #expect(change.reencoded && !change.rebuilt && change.loadedSnapshot && change.added == 1)
            #expect(converted.index.encoding == other && converted.index.count == 6)
            try converted.index.checkIntegrity()
            let found = try converted.search(query, k: 1, ef: 16)
            #expect(found.first?.label == 999 && abs(found.first!.distance) < 1e-5, "\(other)")
        }
        // So is one built with another M: a changed [index] m takes effect at the next start.
        let (relinked, newM) = try LiveIndex.open(
            snapshot: snapshot, store: c.store, space: "cnn", parameters: HNSWParameters(connectivity: 32),
            encoding: encoding, logger: testLogger)
        #expect(newM.rebuilt && !newM.loadedSnapshot && relinked.index.parameters.connectivity == 32)
        #expect(relinked.index.count == 6 && relinked.index.encoding == encoding)
        #expect(
            reopened.index.count == 6 && reopened.index.contains(label: 999)
                && !reopened.index.contains(label: removed.rawValue))
        // A damaged snapshot is rebuilt from the store.
        var bytes = try Data(contentsOf: snapshot)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: snapshot)
        let (rebuilt, second) = try LiveIndex.open(
            snapshot: snapshot, store: c.store, space: "cnn", encoding: encoding, logger: testLogger)
        #expect(second.rebuilt && !second.loadedSnapshot && rebuilt.index.count == 6)
        try rebuilt.index.checkIntegrity()
    }
}

@Suite struct FileSystemChangeTests {
    @Test func renamesKeepTheirIdAndVectorsAndDirectoriesGoWhole() throws {
        let c = try IngestFixture()
        _ = try c.ingestor.ingest(c.files)
        let from = c.images.appendingPathComponent("art2.png").path,
            to = c.images.appendingPathComponent("renamed.png").path
        let id = try #require(try c.catalog.item(path: from)?.itemID)
        try FileManager.default.moveItem(atPath: from, toPath: to)
        try c.ingestor.rename(from: from, to: to)
        #expect(try c.catalog.item(path: to)?.itemID == id && c.catalog.item(path: from) == nil)
        #expect(try c.store.vector(id, space: "cnn") != nil)

        // A touch (new modification time, same bytes) is confirmed by the content hash: nothing is
        // extracted again, and a rename that touched the times keeps the id the same way.
        let before = try #require(try c.store.vector(id, space: "cnn"))
        var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 0), timespec(tv_sec: 1_700_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, to, &times, 0) == 0)
        #expect(try c.ingestor.ingest([to]) == Ingestor.Report(indexed: 0, unchanged: 1))
        let touched = c.images.appendingPathComponent("touched.png").path
        try FileManager.default.moveItem(atPath: to, toPath: touched)
        times = [timespec(tv_sec: 1_710_000_000, tv_nsec: 0), timespec(tv_sec: 1_710_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, touched, &times, 0) == 0)
        try c.ingestor.rename(from: to, to: touched)
        let kept = try #require(try c.catalog.item(path: touched))
        #expect(
            kept.itemID == id && kept.status == .indexed && kept.mtimeNs == 1_710_000_000_000_000_000
                && kept.width != nil)
        #expect(try c.store.vector(id, space: "cnn") == before)

        // Renamed and rewritten in between: the same id, extracted afresh.
        let rewritten = c.images.appendingPathComponent("rewritten.jpg").path
        try FileManager.default.moveItem(atPath: touched, toPath: rewritten)
        try Data(Fixtures.jpeg(composition(width: 100, height: 100, seed: 77))).write(
            to: URL(fileURLWithPath: rewritten))
        try c.ingestor.rename(from: touched, to: rewritten)
        let fresh = try #require(try c.catalog.item(path: rewritten))
        #expect(fresh.itemID == id && fresh.width == 100 && fresh.status == .indexed)
        #expect(try c.store.vector(id, space: "cnn") != before)

        // A directory moved within the roots moves its items; deleted, it takes them all.
        let sub = c.images.appendingPathComponent("sub dir").path,
            moved = c.images.appendingPathComponent("moved dir").path
        try FileManager.default.moveItem(atPath: sub, toPath: moved)
        try c.ingestor.rename(from: sub, to: moved)
        #expect(try c.catalog.item(path: moved + "/art6.webp")?.status == .indexed)
        try FileManager.default.removeItem(atPath: moved)
        #expect(try c.ingestor.remove(directory: CollectionPath(moved)) == 1)

        // Files that vanished while nobody watched are dropped by the start-up scan.
        try FileManager.default.removeItem(atPath: c.images.appendingPathComponent("art1.jpg").path)
        #expect(try c.ingestor.removeVanished(under: CollectionPath(c.images.path), present: Set(c.files)) == 1)
        #expect(
            try StateStore(catalog: c.catalog, vectors: c.store).repair(
                requiredSpaces: ["cnn", "style", "phash"], logger: testLogger) == RepairReport())
        #expect(c.ingestor.indexes.cnn.index.count == 4)
        try c.ingestor.indexes.cnn.index.checkIntegrity()
    }
}

@Suite struct DuplicatesTests {
    @Test func rescaledAndRecompressedCopiesGroupAndDistinctImagesDoNot() throws {
        let c = try IngestFixture()
        // Near-duplicates of art1: a smaller PNG and a lower-quality JPEG of the same composition.
        let original = composition(width: 320, height: 240, seed: 1)
        try Data(Fixtures.png(original.resized(width: 160, height: 120), kind: .rgb8)).write(
            to: c.images.appendingPathComponent("art1-small.png"))
        try Data(Fixtures.jpeg(original, quality: 60)).write(to: c.images.appendingPathComponent("art1-q60.jpg"))
        _ = try c.ingestor.ingest(c.files)
        let groups = try Duplicates.groups(store: c.store, maxDistance: 6)
        let paths = try groups.map {
            try $0.map { try #require(try c.catalog.item($0)).path.split(separator: "/").last.map(String.init)! }
                .sorted()
        }
        #expect(paths.contains(["art1-q60.jpg", "art1-small.png", "art1.jpg"]), "\(paths)")
        #expect(paths.count == 1, "only the art1 family groups: \(paths)")
    }

    /// A near search whose hash blocks would let through more pairs than `Duplicates.pairBudget`
    /// is refused before any is compared, saying what to ask instead (the service answers it as
    /// a bad request); one under it runs.
    @Test func aNearSearchPastThePairBudgetIsRefusedBeforeItStarts() throws {
        let directory = temporaryDirectory("pairs")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try VectorStore(
            directory: directory, spaces: [StandardSpaces.phash, StandardSpaces.cnn], logger: testLogger)
        // 64,000 items with one hash (blank canvases, say): 2,047,968,000 pairs in its one bucket.
        try store.write { batch throws(VectorStoreError) in
            for id in UInt64(1)...64_000 { try batch.put(ItemID(id), [UInt8](repeating: 0, count: 8), space: "phash") }
        }
        #expect {
            try Duplicates.groups(store: store, maxDistance: 0)
        } throws: {
            "\($0)".contains("max_distance=0 would compare 2047968000 pHash pairs")
                && "\($0)".contains("too many items share one perceptual hash")
        }
        let few = try VectorStore(
            directory: temporaryDirectory("pairs-few"), spaces: [StandardSpaces.phash, StandardSpaces.cnn],
            logger: testLogger)
        try few.write { batch throws(VectorStoreError) in
            for id in UInt64(1)...2_000 { try batch.put(ItemID(id), [UInt8](repeating: 0, count: 8), space: "phash") }
        }
        #expect(try Duplicates.groups(store: few, maxDistance: 16).isEmpty, "no CNN vectors: no group")
    }

    /// Every cut of the hash into blocks finds exactly the groups of hashes within max_distance
    /// bits that comparing all pairs finds (every item's CNN vector the same, so the hashes alone
    /// decide): 1,200 hashes around 80 centres, each a few bits from its centre.
    @Test func everyCutOfTheHashFindsWhatComparingAllPairsFinds() throws {
        let directory = temporaryDirectory("mih")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try VectorStore(
            directory: directory, spaces: [StandardSpaces.phash, StandardSpaces.cnn], logger: testLogger)
        var random = SeededRandom(seed: 11)
        let centres = (0..<80).map { _ in random.next() }
        let hashes = (0..<1200).map { _ -> UInt64 in
            var hash = centres[Int(random.next() % 80)]
            for _ in 0..<(random.next() % 9) { hash ^= 1 << (random.next() % 64) }
            return hash
        }
        let unit = [Float](repeating: 0, count: 1279) + [1]
        try store.write { batch throws(VectorStoreError) in
            for (row, hash) in hashes.enumerated() {
                let id = ItemID(UInt64(row + 1))
                try batch.put(
                    id, (0..<8).map { UInt8(truncatingIfNeeded: hash >> UInt64(56 - 8 * $0)) }, space: "phash")
                try batch.put(id, unit, space: "cnn")
            }
        }
        for maxDistance in [0, 4, 10, 16] {
            var parent = Array(hashes.indices)
            func root(_ i: Int) -> Int { parent[i] == i ? i : root(parent[i]) }
            for i in hashes.indices {
                for j in (i + 1)..<hashes.count where (hashes[i] ^ hashes[j]).nonzeroBitCount <= maxDistance {
                    let (a, b) = (root(i), root(j))
                    if a != b { parent[a] = b }
                }
            }
            let brute = Set(
                Dictionary(grouping: hashes.indices, by: root).values.filter { $0.count > 1 }.map {
                    Set($0.map { ItemID(UInt64($0 + 1)) })
                })
            let cuts = (1...(maxDistance + 1)).filter {
                Duplicates.HashBlocks.probeCount(width: 64 / $0, radius: maxDistance / $0) <= 4096
            }
            #expect(!cuts.isEmpty)
            for blocks in cuts + [nil] {
                let found = Set(
                    try Duplicates.groups(store: store, maxDistance: maxDistance, blockCount: blocks).map(Set.init))
                let same = found == brute
                #expect(
                    same,
                    "max_distance \(maxDistance), \(blocks.map(String.init) ?? "chosen") blocks: \(found.count) groups, \(brute.count) comparing all pairs"
                )
            }
        }
    }

    /// The three tiers through the command service, each group with the copy to keep first.
    @Test func tiersGroupWhatTheyPromiseAndSuggestTheCopyToKeep() throws {
        let c = try IngestFixture()
        let original = composition(width: 320, height: 240, seed: 1)
        let art1 = c.images.appendingPathComponent("art1.jpg")
        try FileManager.default.copyItem(at: art1, to: c.images.appendingPathComponent("art1-copy.jpg"))
        try Data(Fixtures.png(original.resized(width: 160, height: 120), kind: .rgb8)).write(
            to: c.images.appendingPathComponent("art1-small.png"))
        try Data(Fixtures.jpeg(original, quality: 60)).write(to: c.images.appendingPathComponent("art1-q60.jpg"))
        // art1.jpg is the oldest of the two identical files.
        var times = [timeval(tv_sec: 1_000_000_000, tv_usec: 0), timeval(tv_sec: 1_000_000_000, tv_usec: 0)]
        #expect(utimes(art1.path, &times) == 0)
        _ = try c.ingestor.ingest(c.files)
        let service = CommandService(
            catalog: c.catalog, store: c.store, indexes: c.ingestor.indexes, logger: testLogger)
        func groups(_ tier: DuplicateTier) throws -> [[(name: String, keep: Bool)]] {
            let rows = try service.answer(.duplicates(tier: tier, maxDistance: 6)).get().rows
            #expect(rows.allSatisfy { $0.count == 8 && $0[1] == tier.rawValue })
            var result: [[(name: String, keep: Bool)]] = []
            var current = ""
            for row in rows {
                let name = String(row[3].split(separator: "/").last ?? "")
                if row[0] != current {
                    result.append([])
                    current = row[0]
                }
                result[result.count - 1].append((name: name, keep: row[4] == "yes"))
            }
            return result
        }
        let exact = try groups(.exact)
        #expect(exact.map { $0.map(\.name) } == [["art1.jpg", "art1-copy.jpg"]], "\(exact)")
        #expect(exact.first?.first?.keep == true && exact.first?.dropFirst().allSatisfy { !$0.keep } == true)
        // Near: the family of four; keep the full-size, least compressed, oldest one.
        let near = try groups(.near)
        #expect(
            near.count == 1
                && Set(near[0].map(\.name)) == ["art1.jpg", "art1-copy.jpg", "art1-small.png", "art1-q60.jpg"],
            "\(near)")
        #expect(near.first?.first?.name == "art1.jpg" && near[0].filter(\.keep).count == 1)
        // Similar (CNN alone) finds the family too, and nothing unrelated joins it.
        let similar = try groups(.similar)
        #expect(
            similar.contains { Set($0.map(\.name)).isSuperset(of: ["art1.jpg", "art1-copy.jpg", "art1-q60.jpg"]) },
            "\(similar)")
        #expect(similar.allSatisfy { $0.allSatisfy { $0.name.hasPrefix("art1") } }, "\(similar)")
    }

    @Test func theKeeperHasTheMostPixelsThenTheLeastCompressionThenIsOldest() {
        func item(_ id: Int64, _ width: Int, _ height: Int, bytes: Int64, mtime: Int64) -> CatalogItem {
            var item = CatalogItem(id: id, path: "/a/\(id).jpg", size: bytes, mtimeNs: mtime)
            (item.width, item.height) = (width, height)
            return item
        }
        #expect(
            Duplicates.keeper([item(1, 100, 100, bytes: 9000, mtime: 1), item(2, 200, 100, bytes: 5000, mtime: 2)])?.id
                == 2)
        #expect(
            Duplicates.keeper([item(1, 100, 100, bytes: 5000, mtime: 1), item(2, 100, 100, bytes: 9000, mtime: 2)])?.id
                == 2)
        #expect(
            Duplicates.keeper([item(1, 100, 100, bytes: 5000, mtime: 3), item(2, 100, 100, bytes: 5000, mtime: 2)])?.id
                == 2)
        #expect(
            Duplicates.keeper([item(3, 100, 100, bytes: 5000, mtime: 2), item(2, 100, 100, bytes: 5000, mtime: 2)])?.id
                == 2)
        #expect(Duplicates.keeper([]) == nil)
    }
}

/// A claimer that fails leaves its reason with the claims, so a twin of its bytes in a later chunk
/// takes the failure instead of reading the bytes again (`sameBytesInOneCallAreDescribedOnce`
/// read a file twice when the pair fell into different chunks); only the holder's failure counts.
@Suite struct ContentClaimsTests {
    @Test func aFailedClaimersReasonOutlivesItsClaim() {
        let claims = ContentClaims()
        #expect(claims.claim("h", for: ItemID(1)) == nil)
        #expect(claims.claim("h", for: ItemID(2)) == ItemID(1))
        // A twin that is not the holder releases nothing and records nothing.
        claims.release([("h", ItemID(2), "not the holder's reason")])
        #expect(claims.holder(of: "h") == ItemID(1) && claims.failure(of: "h") == nil)
        claims.release([("h", ItemID(1), "not an image")])
        #expect(claims.holder(of: "h") == nil && claims.failure(of: "h") == "not an image")
        // A claimer that succeeds leaves no reason; a hash never read leaves none either.
        #expect(claims.claim("g", for: ItemID(3)) == nil)
        claims.release([("g", ItemID(3), nil), ("", ItemID(4), "unreadable")])
        #expect(claims.failure(of: "g") == nil && claims.failure(of: "") == nil)
    }
}
