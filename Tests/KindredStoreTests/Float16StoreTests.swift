import CLMDB
import Foundation
import KindredCore
import KindredTestSupport
import Testing

@testable import KindredStore

/// Float spaces stored as float16, and the migration of a float32 space to float16 (and back).
@Suite struct Float16StoreTests {
    func vector(_ id: UInt64, _ dimension: Int) -> [Float] {
        var random = SeededRandom(seed: id)
        return (0..<dimension).map { _ in random.normal() * 0.05 }
    }

    func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            na += Double(x) * Double(x)
            nb += Double(y) * Double(y)
        }
        return dot / (na * nb).squareRoot()
    }

    /// A NaN, an infinity, or (in a float16 space) a magnitude float16 would turn into an infinity
    /// is refused with the component named, and the batch it was in writes nothing: such a value
    /// would make every distance to the vector NaN or infinite.
    @Test(arguments: [
        (VectorElement.float16, Float.nan), (.float16, .infinity), (.float16, 70_000), (.float32, -.infinity),
        (.float32, .nan),
    ])
    func aValueTheSpaceCannotHoldIsRefused(element: VectorElement, value: Float) throws {
        let directory = temporaryDirectory("unstorable")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try VectorStore(
            directory: directory, spaces: [VectorSpace(name: "v", dimension: 16, element: element)],
            logger: testLogger)
        var bad = vector(2, 16)
        bad[5] = value
        do {
            try store.write { batch throws(VectorStoreError) in
                try batch.put(ItemID(1), vector(1, 16), space: "v")
                try batch.put(ItemID(2), bad, space: "v")
            }
            Issue.record("stored \(value) in a \(element) space")
        } catch {
            #expect("\(error)".contains("item 2: component 5 is \(value)"), "\(error)")
        }
        #expect(try store.vector(ItemID(1), space: "v") == nil, "the batch wrote nothing")
        // The largest value float16 holds is stored, and read back as it was.
        var edge = vector(3, 16)
        edge[0] = element.largestStorableMagnitude
        try store.write { batch throws(VectorStoreError) in try batch.put(ItemID(3), edge, space: "v") }
        #expect(try store.vector(ItemID(3), space: "v")?[0] == element.largestStorableMagnitude)
    }

    @Test func float16RecordsTakeOnePageAndReadBackAsFloats() throws {
        let store = try VectorStore(
            directory: temporaryDirectory("f16"),
            spaces: [VectorSpace(name: "cnn", dimension: 1280, element: .float16)],
            logger: testLogger)
        try store.write { batch throws(VectorStoreError) in
            for id in UInt64(1)...100 { try batch.put(ItemID(id), vector(id, 1280), space: "cnn") }
        }
        let usage = try store.usage(space: "cnn")
        if usage.pageSize == 4096 { #expect(usage.overflowPages == 100, "\(usage)") }  // float32 took 200
        for id in UInt64(1)...100 {
            let back = try #require(try store.vector(ItemID(id), space: "cnn"))
            let original = vector(id, 1280)
            #expect(cosine(back, original) > 0.99999)
            for (x, y) in zip(back, original) { #expect(abs(x - y) <= abs(y) / 1024 + 1e-7) }
        }
        let (ids, matrix) = try store.readMatrix(space: "cnn")
        let single = try store.vector(ItemID(42), space: "cnn")
        #expect(ids.count == 100 && matrix.row(41) == single)
        let read: [Float]? = try store.withReader(space: "cnn") { reader in reader.withVector(42) { Array($0) } }
        #expect(read == matrix.row(41))
        // Bytes are not floats.
        #expect(throws: VectorStoreError.self) { try store.vector(ItemID(1), space: "cnn", as: UInt8.self) }
    }

    /// A re-rank reads its candidates' vectors in one call (`VectorReader.forEachVector`, which
    /// looks every record up before reading any): each answer is what reading that label alone
    /// gives, a missing or damaged record is nil in its place, and a label asked twice is read twice.
    @Test(arguments: [VectorElement.float16, .float32])
    func readingManyAtOnceGivesWhatReadingEachGives(element: VectorElement) throws {
        let directory = temporaryDirectory("many")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try VectorStore(
            directory: directory, spaces: [VectorSpace(name: "cnn", dimension: 1280, element: element)],
            logger: testLogger)
        try store.write { batch throws(VectorStoreError) in
            for id in UInt64(1)...40 { try batch.put(ItemID(id), vector(id, 1280), space: "cnn") }
        }
        // Item 7's record damaged: its magic overwritten.
        let db = try store.lookup("cnn", item: nil).1
        try store.environment.write { txn in
            let bytes = Array(try txn.get(db, UInt64(7))!)
            try txn.put(db, UInt64(7), count: bytes.count) { out in
                out.copyBytes(from: bytes)
                out[0] = 0
            }
        }
        let labels: [UInt64] = [3, 999, 7, 40, 3, 1, 0, 25]
        try store.withReader(space: "cnn") { reader in
            var seen: [Int] = []
            reader.forEachVector(labels) { i, vector in
                seen.append(i)
                let batch = vector.map(Array.init)  // copied first: reading one alone reuses the scratch
                let alone = reader.withVector(labels[i]) { Array($0) }
                #expect(batch == alone, "label \(labels[i])")
            }
            #expect(seen == Array(labels.indices))
            #expect(reader.withVector(7) { _ in true } == nil && reader.withVector(999) { _ in true } == nil)
            #expect(reader.withVector(40) { $0.count } == 1280)
        }
    }

    /// A state written with float32 CNN vectors (record version 1) opens as float16: every record
    /// is rewritten, ids and producer versions kept, values within half precision; a migration
    /// cut short (some records still float32) reads correctly and finishes at the next open.
    @Test func aFloat32SpaceMigratesToFloat16AndResumesIfCut() throws {
        let directory = temporaryDirectory("migrate")
        let old = VectorSpace(name: "cnn", dimension: 1280, element: .float32, producer: 3)
        let new = VectorSpace(name: "cnn", dimension: 1280, element: .float16, producer: 3)
        let count: UInt64 = 5000
        do {
            let store = try VectorStore(directory: directory, spaces: [old], logger: testLogger)
            try store.write { batch throws(VectorStoreError) in
                for id in UInt64(1)...count { try batch.put(ItemID(id), vector(id, 1280), space: "cnn") }
            }
            // Records written as version 1 (the format before float16): rewrite byte 2 to 1.
            let db = try store.lookup("cnn", item: nil).1
            try store.environment.write { txn in
                for id in UInt64(1)...count {
                    let bytes = Array(try txn.get(db, id)!)
                    try txn.put(db, id, count: bytes.count) { out in
                        out.copyBytes(from: bytes)
                        out[2] = 1
                    }
                }
            }
            #expect(try store.usage(space: "cnn").overflowPages == Int(count) * 2)
        }
        let store = try VectorStore(directory: directory, spaces: [new], logger: testLogger)
        #expect(try store.registeredSpaces() == [new])
        #expect(try store.staleItems(space: "cnn").isEmpty)
        let usage = try store.usage(space: "cnn")
        #expect(usage.entries == Int(count) && usage.overflowPages == Int(count), "\(usage)")
        for id in stride(from: UInt64(1), through: count, by: 97) {
            let back = try #require(try store.vector(ItemID(id), space: "cnn"))
            #expect(cosine(back, vector(id, 1280)) > 0.99999)
        }

        // Cut short: a third of the records back to float32, the registry saying float32 again.
        let db = try store.lookup("cnn", item: nil).1
        try store.environment.write { txn in
            let header = VectorRecordHeader(element: .float32, dimension: 1280, producer: 3)
            for id in stride(from: UInt64(1), through: count, by: 3) {
                let values = vector(id, 1280)
                try txn.put(db, id, count: old.recordSize) { out in
                    header.encode(into: out)
                    values.withUnsafeBytes {
                        out.baseAddress!.advanced(by: 16).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
                    }
                }
            }
        }
        // The registry still says float32, as it does until a migration ends.
        let registryEntry = try JSONEncoder().encode(old)
        try store.environment.write { txn in
            try txn.put(store.registry, "cnn", count: registryEntry.count) { registryEntry.copyBytes(to: $0) }
        }
        // Mixed records read as floats.
        #expect(cosine(try #require(try store.vector(ItemID(1), space: "cnn")), vector(1, 1280)) > 0.999999)
        #expect(try store.readAll(space: "cnn").ids.count == Int(count))
        let reopened = try VectorStore(directory: directory, spaces: [new], logger: testLogger)
        #expect(try reopened.usage(space: "cnn").overflowPages == Int(count))
    }

    /// Back to float32 (a user who wants full precision stored) works the same way.
    @Test func float16MigratesBackToFloat32() throws {
        let directory = temporaryDirectory("migrate-back")
        do {
            let store = try VectorStore(
                directory: directory, spaces: [VectorSpace(name: "v", dimension: 300, element: .float16)],
                logger: testLogger)
            try store.write { batch throws(VectorStoreError) in
                for id in UInt64(1)...50 { try batch.put(ItemID(id), vector(id, 300), space: "v") }
            }
        }
        let store = try VectorStore(
            directory: directory, spaces: [VectorSpace(name: "v", dimension: 300, element: .float32)],
            logger: testLogger)
        let back = try #require(try store.vector(ItemID(7), space: "v"))
        #expect(cosine(back, vector(7, 300)) > 0.99999)
        // A float space cannot become a byte space.
        #expect(throws: VectorStoreError.self) {
            try VectorStore(
                directory: directory, spaces: [VectorSpace(name: "v", dimension: 300, element: .uint8)],
                logger: testLogger)
        }
    }
}
