import Foundation
import KindredCore
import KindredTestSupport
import Synchronization
import Testing

@testable import KindredIndex

@Suite struct HNSWRecallTests {
    /// Embedding-shaped data at the size where the graph's quality shows (50 points per centre).
    @Test func recallAtEf64MatchesExactSearch() throws {
        let (base, queries, truth) = try embeddingLikeVectors(n: 100_000, d: 256, queries: 200)
        // The truth (exact search through BLAS) agrees with a scalar loop in Double.
        let scalar = (0..<10).map { scalarTopK(base, queries.row($0), k: 10) }
        #expect(recall(Array(truth.prefix(10)), scalar, k: 10) >= 0.99)

        let index = try HNSWIndex.build(base, metric: .cosine, threads: 2, logger: testLogger)
        try index.checkIntegrity()
        let found = try (0..<queries.rows).map { q in try index.search(queries.row(q), k: 10, ef: 64).map(\.label) }
        let measured = recall(found, truth, k: 10)
        #expect(measured >= 0.95, "recall@10 at ef=64 is \(measured)")
    }

    @Test func l2RecallOnClusteredData() throws {
        let base = clusteredVectors(n: 4000, d: 48)
        let queries = clusteredVectors(n: 100, d: 48, seed: 7)
        let index = try HNSWIndex.build(base, metric: .l2, threads: 2, logger: testLogger)
        let exact = try ExactSearch.search(base: base, queries: queries, k: 10, metric: .l2)
        let found = try (0..<queries.rows).map { q in try index.search(queries.row(q), k: 10, ef: 64) }
        #expect(recall(found.map { $0.map(\.label) }, exact.map { $0.map(\.label) }, k: 10) >= 0.95)
        // Distances are squared L2, as exact search reports them.
        #expect(abs(found[0][0].distance - exact[0][0].distance) < 1e-3 * max(1, exact[0][0].distance))
    }
}

@Suite struct HNSWMutationTests {
    let base = clusteredVectors(n: 3000, d: 32)
    let queries = clusteredVectors(n: 100, d: 32, seed: 9)

    func measuredRecall(_ index: HNSWIndex, liveRows: [Int]) throws -> Double {
        let live = Matrix(rows: liveRows.count, columns: base.columns, storage: liveRows.flatMap { base.row($0) })
        let exact = try ExactSearch.search(base: live, queries: queries, k: 10, metric: .cosine).map {
            $0.map { UInt64(liveRows[Int($0.label)]) }
        }
        let found = try (0..<queries.rows).map { q in try index.search(queries.row(q), k: 10, ef: 64).map(\.label) }
        return recall(found, exact, k: 10)
    }

    @Test func insertsDeletesAndUpdatesKeepTheGraphSoundAndRecallHigh() throws {
        let index = try HNSWIndex(dimension: 32, metric: .cosine, logger: testLogger)
        for row in 0..<base.rows { try index.insert(base.row(row), label: UInt64(row)) }
        index.ensureReachable()
        try index.checkIntegrity()
        let before = try measuredRecall(index, liveRows: Array(0..<base.rows))
        #expect(before >= 0.95)

        // Delete 30 %: never returned again, and the graph stays sound before and after compaction.
        var rng = SeededRandom(seed: 5)
        let deleted = Set((0..<base.rows).filter { _ in rng.unit() < 0.3 })
        for row in deleted { #expect(index.remove(label: UInt64(row))) }
        #expect(!index.remove(label: UInt64(deleted.first!)), "removing twice reports absence")
        try index.checkIntegrity()
        for q in 0..<queries.rows {
            #expect(try index.search(queries.row(q), k: 10, ef: 64).allSatisfy { !deleted.contains(Int($0.label)) })
        }
        let report = index.compact()
        #expect(report.detached == deleted.count)
        try index.checkIntegrity()
        #expect(index.count == base.rows - deleted.count && index.deletedCount == 0)
        let afterDelete = try measuredRecall(index, liveRows: (0..<base.rows).filter { !deleted.contains($0) })
        #expect(afterDelete >= 0.93, "recall after deleting 30 % and compacting: \(afterDelete)")

        // Reinsert them (into the freed slots).
        for row in deleted.sorted() { try index.insert(base.row(row), label: UInt64(row)) }
        index.ensureReachable()
        try index.checkIntegrity()
        let afterReinsert = try measuredRecall(index, liveRows: Array(0..<base.rows))
        #expect(afterReinsert >= before - 0.02, "recall after reinserting: \(afterReinsert), before: \(before)")

        // Updating a vector re-links the node: the new vector finds it first.
        for label in UInt64(0)..<50 {
            let replacement = queries.row(Int(label) % queries.rows).map { $0 + 0.01 * Float(label) }
            try index.insert(replacement, label: label)
            #expect(try index.search(replacement, k: 1, ef: 64).first?.label == label)
        }
        #expect(index.count == base.rows)
        index.compact()
        try index.checkIntegrity()
    }

    /// A file deleted and added back under another name: a new label whose vector equals (or
    /// differs in the last bits from) a removed node's. The live copy must not lose its in-links
    /// to its own tombstone.
    @Test func reAddedTwinsOfRemovedNodesStayReachable() throws {
        let index = try HNSWIndex(dimension: 32, metric: .cosine, logger: testLogger)
        for row in 0..<base.rows { try index.insert(base.row(row), label: UInt64(row)) }
        let twins = Array(stride(from: 0, to: base.rows, by: 10))
        for row in twins { #expect(index.remove(label: UInt64(row))) }
        var rng = SeededRandom(seed: 11)
        for row in twins {
            // Half exact copies, half as a re-run of the CNN might give them (a few ulps apart).
            let vector = base.row(row).map { row % 20 == 0 ? $0 : $0 * (1 + 1e-7 * (rng.unit() - 0.5)) }
            try index.insert(vector, label: UInt64(100_000 + row))
        }
        try index.checkIntegrity()
        let lost = try twins.filter { row in
            try index.search(base.row(row), k: 1, ef: 64).first?.label != UInt64(100_000 + row)
        }
        #expect(lost.isEmpty, "\(lost.count) of \(twins.count) re-added twins not found by their own vector")
    }

    @Test func filteredSearchReturnsKWhenKExist() throws {
        let index = try HNSWIndex.build(base, metric: .cosine, threads: 2, logger: testLogger)
        for q in 0..<20 {
            let query = queries.row(q)
            let everyTenth = try index.search(query, k: 10, ef: 32) { $0 % 10 == 3 }
            #expect(everyTenth.count == 10 && everyTenth.allSatisfy { $0.label % 10 == 3 })
            // Exactly the true nearest among the allowed labels, at least for the first.
            let allowed = (0..<base.rows).filter { $0 % 10 == 3 }
            let sub = Matrix(rows: allowed.count, columns: 32, storage: allowed.flatMap { base.row($0) })
            let exact = try ExactSearch.search(
                base: sub, queries: Matrix(rows: 1, columns: 32, storage: query), k: 10, metric: .cosine)[0]
            #expect(everyTenth[0].label == UInt64(allowed[Int(exact[0].label)]))
        }
        // A filter so selective the graph walk alone would miss: still k results, or all there are.
        let rare: Set<UInt64> = [17, 517, 1017, 1517, 2017, 2517, 2999, 3, 4, 5, 6, 7]
        #expect(try Set(index.search(queries.row(0), k: 10) { rare.contains($0) }.map(\.label)).isSubset(of: rare))
        #expect(try index.search(queries.row(0), k: 10) { rare.contains($0) }.count == 10)
        #expect(try index.search(queries.row(0), k: 20) { rare.contains($0) }.count == rare.count)
    }

    /// A stored item's query leaves out the item itself: `excluding` drops that label and only it,
    /// alone, with a filter, and on the exact-scan fallback.
    @Test func excludingDropsOneLabel() throws {
        let index = try HNSWIndex.build(base, metric: .cosine, threads: 2, logger: testLogger)
        for row in [0, 17, 2999] {
            let query = base.row(row)
            let all = try index.search(query, k: 11, ef: 64).map(\.label)
            #expect(all.first == UInt64(row))
            let others = try index.search(query, k: 10, ef: 64, excluding: UInt64(row)).map(\.label)
            #expect(others == Array(all.dropFirst()))
            let filtered = try index.search(query, k: 10, ef: 64, excluding: UInt64(row)) { $0 % 2 == 1 }.map(\.label)
            #expect(filtered.count == 10 && filtered.allSatisfy { $0 % 2 == 1 && $0 != UInt64(row) })
        }
        let rare: Set<UInt64> = [3, 4, 5]
        #expect(try Set(index.search(base.row(4), k: 10, excluding: 4) { rare.contains($0) }.map(\.label)) == [3, 5])
        // A label the index does not hold excludes nothing.
        #expect(try index.search(base.row(4), k: 5, excluding: 999_999).map(\.label).first == 4)
    }

    /// A stored item's query (its own vector, itself excluded) starts the walk at its own node:
    /// no worse than the walk from the entry point on a sparse graph with a short candidate list,
    /// where the walks differ.
    @Test func storedItemQueriesStartAtTheirNode() throws {
        let (base, _, _) = try embeddingLikeVectors(n: 20_000, d: 96, queries: 1)
        let index = try HNSWIndex.build(
            base, metric: .cosine, parameters: HNSWParameters(connectivity: 6, efConstruction: 40), threads: 2,
            logger: testLogger)
        let rows = Array(stride(from: 0, to: 20_000, by: 67))
        let queries = Matrix(rows: rows.count, columns: 96, storage: rows.flatMap { Array(base.row($0)) })
        let truth = try ExactSearch.search(base: base, queries: queries, k: 11, metric: .cosine).enumerated().map {
            q, found in found.map(\.label).filter { $0 != UInt64(rows[q]) }
        }
        var fromNode: [[UInt64]] = [], fromEntry: [[UInt64]] = []
        for (q, row) in rows.enumerated() {
            fromNode.append(try index.search(queries.row(q), k: 10, ef: 10, excluding: UInt64(row)).map(\.label))
            // The same query without `excluding` walks from the entry point; its own item comes back too.
            fromEntry.append(
                try index.search(queries.row(q), k: 11, ef: 11).map(\.label).filter { $0 != UInt64(row) })
        }
        let node = recall(fromNode, truth, k: 10), entry = recall(fromEntry, truth, k: 10)
        #expect(node >= entry - 0.01, "from the node \(node), from the entry point \(entry)")
        #expect(fromNode.allSatisfy { $0.count == 10 })
        // An item most of whose neighbours are deleted still gets k live ones.
        let first = Matrix(rows: 200, columns: 96, storage: (0..<200).flatMap { Array(base.row($0)) })
        let lonely = try HNSWIndex.build(first, metric: .cosine, threads: 1, logger: testLogger)
        let neighbours = try lonely.search(base.row(0), k: 199, ef: 199, excluding: 0).map(\.label)
        for label in neighbours.prefix(150) { lonely.remove(label: label) }
        #expect(try lonely.search(base.row(0), k: 10, ef: 20, excluding: 0).count == 10)
        // An item whose node has no links yet (as while it is being linked) reaches nothing from
        // its node: the search falls back to the walk from the entry point, which finds its
        // nearest live items.
        let item = try #require(neighbours.last)
        let slot = try #require(lonely.book.withLock { $0.slotByLabel[item] })
        lonely.linkList(slot, 0)[0].store(0, ordering: .releasing)
        let live = lonely.liveLabels().filter { $0 != item }.sorted()
        let liveRows = Matrix(rows: live.count, columns: 96, storage: live.flatMap { Array(base.row(Int($0))) })
        let nearest = try ExactSearch.search(
            base: liveRows, queries: Matrix(rows: 1, columns: 96, storage: Array(base.row(Int(item)))), k: 10,
            metric: .cosine)[0].map { live[Int($0.label)] }
        let found = try lonely.search(base.row(Int(item)), k: 10, ef: 20, excluding: item).map(\.label)
        #expect(recall([found], [nearest], k: 10) >= 0.9, "\(found) against \(nearest)")
    }

    /// A build's progress, read from another thread while it runs, only grows and ends at every row.
    @Test func buildReportsItsProgress() throws {
        let (base, _, _) = try embeddingLikeVectors(n: 6_000, d: 32, queries: 1)
        let progress = BuildProgress()
        let stop = Atomic<Bool>(false)
        let seen = Mutex<[Int]>([])
        let reader = Thread {
            while !stop.load(ordering: .acquiring) {
                let (inserted, rows) = progress.counts
                if rows > 0 { seen.withLock { $0.append(inserted) } }
                usleep(200)
            }
        }
        reader.start()
        let index = try HNSWIndex.build(base, metric: .cosine, threads: 2, progress: progress, logger: testLogger)
        stop.store(true, ordering: .releasing)
        while !reader.isFinished { usleep(100) }
        #expect(index.count == 6_000)
        #expect(progress.counts == (6_000, 6_000))
        let readings = seen.withLock { $0 }
        #expect(!readings.isEmpty, "the reader saw the build under way")
        #expect(readings == readings.sorted() && readings.allSatisfy { (0...6_000).contains($0) }, "\(readings)")
    }

    @Test func concurrentSearchesDuringInsertsSeeOnlyWholeNodes() throws {
        let index = try HNSWIndex(dimension: 32, metric: .cosine, logger: testLogger)
        for row in 0..<500 { try index.insert(base.row(row), label: UInt64(row)) }
        let inserted = Atomic<Int>(500)
        let stop = Atomic<Bool>(false)
        let problems = Mutex<[String]>([])
        // Searches during which at least one insert completed, and those that returned a node
        // inserted after they began: evidence the two really overlapped.
        let overlapped = Atomic<Int>(0), sawNewer = Atomic<Int>(0), searches = Atomic<Int>(0)
        let readers = (0..<2).map { reader in
            Thread {
                var q = reader
                while !stop.load(ordering: .relaxed) {
                    let ceiling = inserted.load(ordering: .acquiring)
                    do {
                        let found = try index.search(self.queries.row(q % self.queries.rows), k: 10, ef: 32)
                        let after = inserted.load(ordering: .acquiring)
                        searches.add(1, ordering: .relaxed)
                        if after > ceiling { overlapped.add(1, ordering: .relaxed) }
                        if found.contains(where: { Int($0.label) >= ceiling }) { sawNewer.add(1, ordering: .relaxed) }
                        if found.count < 10 {
                            problems.withLock { $0.append("\(found.count) results with \(ceiling) nodes") }
                        }
                        if let bad = found.first(where: { Int($0.label) >= max(after, ceiling) + 1 }) {
                            problems.withLock { $0.append("label \(bad.label) returned before it was inserted") }
                        }
                    } catch { problems.withLock { $0.append("\(error)") } }
                    q += 1
                }
            }
        }
        readers.forEach { $0.start() }
        while searches.load(ordering: .relaxed) < 2 { usleep(100) }
        for row in 500..<base.rows {
            try index.insert(base.row(row), label: UInt64(row))
            inserted.store(row + 1, ordering: .releasing)
        }
        stop.store(true, ordering: .relaxed)
        while readers.contains(where: { $0.isExecuting }) { usleep(1000) }
        #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(5) })")
        #expect(
            overlapped.load(ordering: .relaxed) > 0 && sawNewer.load(ordering: .relaxed) > 0,
            "searches overlapping an insert: \(overlapped.load(ordering: .relaxed)), returning a newer node: \(sawNewer.load(ordering: .relaxed))"
        )
        index.ensureReachable()
        try index.checkIntegrity()
        #expect(index.count == base.rows)
    }
}

@Suite struct HNSWFileTests {
    @Test func roundTripKeepsEverything() throws {
        let base = clusteredVectors(n: 2000, d: 40)
        let index = try HNSWIndex.build(
            base, labels: (0..<2000).map { UInt64($0) * 7 + 1 }, metric: .cosine,
            parameters: HNSWParameters(connectivity: 12, efConstruction: 100, seed: 3), threads: 2, logger: testLogger)
        for label in stride(from: UInt64(1), to: 700, by: 7) { index.remove(label: label) }
        let url = temporaryDirectory("hnsw").appendingPathComponent("index.hnsw")
        try index.save(to: url)
        let loaded = try HNSWIndex.load(from: url, logger: testLogger)
        try loaded.checkIntegrity()
        #expect(loaded.parameters == index.parameters && loaded.metric == .cosine && loaded.dimension == 40)
        #expect(loaded.count == index.count && loaded.deletedCount == index.deletedCount)
        for q in 0..<50 {
            #expect(try loaded.search(base.row(q * 13), k: 10, ef: 50) == index.search(base.row(q * 13), k: 10, ef: 50))
        }
        // A loaded index takes inserts and compaction like a fresh one.
        try loaded.insert(base.row(0), label: 999_999)
        loaded.compact()
        try loaded.checkIntegrity()
    }

    /// Version 3 changed the checksum to XXH3; files of versions 1 and 2 still load, verified by
    /// the checksum they were written with, and a file is saved afresh as version 3.
    @Test func olderFormatVersionsStillLoad() throws {
        // Written by a version 1 writer (before row encodings; the old checksum), kept as a fuzzing seed.
        let fixture = packageRoot.appendingPathComponent("Tests/FuzzCorpus/fuzz-snapshot/24x4-cosine.hnsw")
        // The helper that writes old files reproduces one the old writer wrote, byte for byte.
        let fixtureBytes = try Data(contentsOf: fixture)
        #expect(withLegacyChecksum(fixtureBytes, version: 1) == fixtureBytes)
        let old = try HNSWIndex.load(from: fixture, logger: testLogger)
        try old.checkIntegrity()
        #expect(old.count == 24 && old.dimension == 4 && old.metric == .cosine)
        let resaved = temporaryDirectory("hnsw-v3").appendingPathComponent("resaved.hnsw")
        try old.save(to: resaved)
        #expect(try Data(contentsOf: resaved)[8] == 3)
        let query: [Float] = [0.3, -0.2, 0.9, 0.1]
        #expect(try HNSWIndex.load(from: resaved, logger: testLogger).search(query, k: 5) == old.search(query, k: 5))

        // A version 3 file rewritten as version 2 with the old checksum loads the same; with its
        // version byte changed alone, the checksums disagree and the file is refused.
        let base = clusteredVectors(n: 803, d: 24)
        let index = try HNSWIndex.build(base, metric: .cosine, threads: 1, logger: testLogger)
        let url = temporaryDirectory("hnsw-v2").appendingPathComponent("index.hnsw")
        try index.save(to: url)
        let current = try Data(contentsOf: url)
        try withLegacyChecksum(current, version: 2).write(to: url)
        let loaded = try HNSWIndex.load(from: url, logger: testLogger)
        try loaded.checkIntegrity()
        for q in 0..<20 { #expect(try loaded.search(base.row(q * 37), k: 10) == index.search(base.row(q * 37), k: 10)) }
        var relabelled = current
        relabelled[8] = 2
        try relabelled.write(to: url)
        #expect { try HNSWIndex.load(from: url, logger: testLogger) } throws: { "\($0)".contains("checksum mismatch") }
    }

    @Test func damagedAndForeignFilesAreRejectedClearly() throws {
        let directory = temporaryDirectory("hnsw-bad")
        let url = directory.appendingPathComponent("good.hnsw")
        try HNSWIndex.build(clusteredVectors(n: 300, d: 16), metric: .l2, threads: 1, logger: testLogger).save(to: url)
        let good = try Data(contentsOf: url)
        func rejected(_ bytes: Data, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let bad = directory.appendingPathComponent(UUID().uuidString)
            try bytes.write(to: bad)
            #expect(sourceLocation: sourceLocation) { try HNSWIndex.load(from: bad, logger: testLogger) } throws: {
                error in
                let text = "\(error)"
                return text.contains(expected) && text.contains("Rebuild it with `kindred index build`")
            }
        }
        try rejected(Data(), "shorter than the 64-byte header")
        try rejected(
            Data("PK\u{3}\u{4} definitely a zip file, not an index at all, padded to sixty-four bytes..".utf8),
            "no KNDRHNSW magic")
        try rejected(good.prefix(good.count - 100), "truncated or altered")
        // A header claiming 2^31 nodes is refused by the length check, before any allocation
        // (Fuzz/fuzz-snapshot found the loader allocating 78 GB).
        var claims = good
        claims.replaceSubrange(40..<44, with: [0, 0, 0, 0x80])
        try rejected(claims, "truncated or altered")
        for offset in stride(from: 64, to: good.count, by: good.count / 7) {
            var flipped = good
            flipped[offset] ^= 0x40
            try rejected(flipped, "checksum mismatch")
        }
        var version = good
        version[8] = 9
        try rejected(version, "format version 9")
        var m = good
        m[24] = 1
        try rejected(m, "M (connectivity) = 1 is invalid")
        var random = SeededRandom(seed: 1)
        try rejected(Data((0..<4096).map { _ in UInt8(truncatingIfNeeded: random.next()) }), "no KNDRHNSW magic")
        #expect(throws: IndexError.io(path: directory.appendingPathComponent("missing").path, errno: ENOENT)) {
            try HNSWIndex.load(from: directory.appendingPathComponent("missing"), logger: testLogger)
        }
    }

    /// A snapshot whose checksum is right but whose upper-layer link leads to a node without that
    /// layer is refused at load: a search's descent would read the target's links on a layer it
    /// does not have (found by Fuzz/fuzz-snapshot in a 600 s run).
    @Test func anUpperLayerLinkToANodeBelowItIsRefused() throws {
        let url = temporaryDirectory("hnsw-layers").appendingPathComponent("index.hnsw")
        let connectivity = 4
        try HNSWIndex.build(
            clusteredVectors(n: 300, d: 8), metric: .cosine,
            parameters: HNSWParameters(connectivity: connectivity, efConstruction: 40, seed: 5), threads: 1,
            logger: testLogger
        ).save(to: url)
        var bytes = [UInt8](try Data(contentsOf: url))
        func u32(_ offset: Int) -> Int {
            Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3])
                << 24
        }
        #expect(bytes[17] == 0)  // float32 rows
        let n = u32(40), dimension = u32(20)
        let padded = { (count: Int) in (count + 7) / 8 * 8 }
        let levels = 64 + padded(n * 8)
        let rowBytes = VectorEncoding.float32.rowBytes(dimension: dimension)
        let upper = levels + 2 * padded(n) + padded(n * rowBytes) + padded(n * (2 * connectivity + 1) * 4)
        #expect(upper + padded(u32(52) * 4) == bytes.count)
        let first = try #require((0..<n).first { bytes[levels + $0] > 0 }, "a node above layer 0")
        let below = try #require((0..<n).first { bytes[levels + $0] == 0 }, "a node on layer 0 only")
        // The first upper-layer block is `first`'s layer 1: its count, then its links.
        let write = { (offset: Int, value: Int) in
            for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        write(upper, max(1, u32(upper)))
        write(upper + 4, below)
        let checksum = SnapshotChecksum(formatVersion: 3)
        bytes.withUnsafeBytes { checksum.update(UnsafeRawBufferPointer(rebasing: $0[64...])) }
        write(56, Int(truncatingIfNeeded: checksum.value))
        write(60, Int(truncatingIfNeeded: checksum.value >> 32))
        try Data(bytes).write(to: url)
        #expect { try HNSWIndex.load(from: url, logger: testLogger) } throws: {
            "\($0)".contains("node \(first) links on layer 1 to node \(below), whose top layer is 0")
        }
    }

    /// A snapshot whose checksum is right but whose free slot still has links is refused at load:
    /// the insert that reuses a free slot starts it afresh, and a block of upper-layer links it
    /// held was lost (found by Fuzz/fuzz-snapshot, run with inserts and compaction after the load).
    @Test func aFreeSlotWithLinksIsRefused() throws {
        let url = temporaryDirectory("hnsw-free").appendingPathComponent("index.hnsw")
        let connectivity = 4
        let index = try HNSWIndex.build(
            clusteredVectors(n: 200, d: 8), metric: .cosine,
            parameters: HNSWParameters(connectivity: connectivity, efConstruction: 40, seed: 5), threads: 1,
            logger: testLogger)
        for label in 0..<UInt64(20) { index.remove(label: label) }
        index.compact()
        try index.save(to: url)
        var bytes = [UInt8](try Data(contentsOf: url))
        func u32(_ offset: Int) -> Int {
            Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3])
                << 24
        }
        let n = u32(40), dimension = u32(20)
        let padded = { (count: Int) in (count + 7) / 8 * 8 }
        let states = 64 + padded(n * 8) + padded(n)
        let links0 = states + padded(n) + padded(n * VectorEncoding.float32.rowBytes(dimension: dimension))
        let free = try #require(
            (0..<n).first { bytes[states + $0] == HNSWIndex.NodeState.free.rawValue }, "a free slot")
        let list = links0 + free * (2 * connectivity + 1) * 4
        bytes[list] = 1  // one link on layer 0, to node 0 or 1
        bytes[list + 4] = free == 0 ? 1 : 0
        let checksum = SnapshotChecksum(formatVersion: 3)
        bytes.withUnsafeBytes { checksum.update(UnsafeRawBufferPointer(rebasing: $0[64...])) }
        for i in 0..<8 { bytes[56 + i] = UInt8(truncatingIfNeeded: checksum.value >> (8 * UInt64(i))) }
        try Data(bytes).write(to: url)
        #expect { try HNSWIndex.load(from: url, logger: testLogger) } throws: {
            "\($0)".contains("free slot \(free) still has links or layers")
        }
    }

    @Test func badParametersSayWhatToDo() throws {
        #expect {
            try HNSWIndex(
                dimension: 8, metric: .cosine, parameters: HNSWParameters(connectivity: 1), logger: testLogger)
        } throws: {
            "\($0)"
                == "M (connectivity) = 1 is invalid: it must be between 2 and 512; 12 to 48 suits most data, 16 is the usual default"
        }
        #expect(throws: IndexError.self) {
            try HNSWIndex(
                dimension: 8, metric: .cosine, parameters: HNSWParameters(efConstruction: 0), logger: testLogger)
        }
        #expect(throws: IndexError.self) { try HNSWIndex(dimension: 0, metric: .cosine, logger: testLogger) }
        let index = try HNSWIndex(dimension: 8, metric: .cosine, logger: testLogger)
        #expect { try index.insert([Float](repeating: 1, count: 9), label: 1) } throws: {
            "\($0)".hasPrefix("vector has 9 components but the index holds 8-d vectors")
        }
        #expect(throws: IndexError.dimensionMismatch(expected: 8, got: 3)) { try index.search([1, 2, 3], k: 1) }
        #expect { try index.insert([Float](repeating: 0, count: 8), label: 1) } throws: {
            "\($0)".contains("not all zeros")
        }
        #expect(try index.search([Float](repeating: 1, count: 8), k: 5).isEmpty, "an empty index finds nothing")
    }
}
