import CLMDB
import Foundation
import KindredCore
import KindredTestSupport
import Testing

@testable import KindredStore

@Suite struct VectorStoreTests {
    let spaces = [
        VectorSpace(name: "cnn", dimension: 1280),
        VectorSpace(name: "style", dimension: 61),
        VectorSpace(name: "phash", dimension: 8, element: .uint8),
    ]

    func vector(_ id: UInt64, _ dimension: Int) -> [Float] { (0..<dimension).map { Float(id) * 0.25 + Float($0) / 7 } }

    @Test func vectorsOfSeveralSpacesRoundTripAcrossReopen() throws {
        let directory = temporaryDirectory("store")
        do {
            let store = try VectorStore(directory: directory, spaces: spaces, logger: testLogger)
            try store.write { batch throws(VectorStoreError) in
                for id in UInt64(1)...300 {
                    try batch.put(ItemID(id), vector(id, 1280), space: "cnn")
                    if id % 2 == 0 { try batch.put(ItemID(id), vector(id, 61), space: "style") }
                    try batch.put(
                        ItemID(id), (0..<8).map { UInt8(truncatingIfNeeded: id &* 31 &+ UInt64($0)) }, space: "phash")
                }
            }
        }
        let store = try VectorStore(directory: directory, spaces: spaces, logger: testLogger)
        #expect(try store.count(space: "cnn") == 300)
        #expect(try store.count(space: "style") == 150)
        #expect(try store.vector(ItemID(17), space: "cnn") == vector(17, 1280))
        #expect(try store.vector(ItemID(17), space: "style") == nil)
        #expect(try store.vector(ItemID(18), space: "style") == vector(18, 61))
        #expect(
            try store.vector(ItemID(5), space: "phash", as: UInt8.self)
                == (0..<8).map { UInt8(truncatingIfNeeded: 5 * 31 + $0) })

        let (ids, matrix) = try store.readMatrix(space: "style")
        #expect(ids == stride(from: UInt64(2), through: 300, by: 2).map { ItemID($0) })
        #expect(matrix.rows == 150 && matrix.columns == 61)
        for (row, id) in ids.enumerated() { #expect(matrix.row(row) == vector(id.rawValue, 61)) }
        #expect(Set(try store.registeredSpaces()) == Set(spaces))
    }

    /// `warm` reads a space's records into the page cache (what kindredd does after a start): a
    /// store evicted from the cache is resident again, and a space larger than the budget is left
    /// alone.
    @Test func warmBringsAnEvictedSpaceBackIntoThePageCache() throws {
        let directory = temporaryDirectory("store")
        let store = try VectorStore(directory: directory, spaces: spaces, logger: testLogger)
        try store.write { batch throws(VectorStoreError) in
            for id in UInt64(1)...500 { try batch.put(ItemID(id), vector(id, 1280), space: "cnn") }
        }
        try store.environment.sync()
        let usage = try store.usage(space: "cnn")
        #expect(try store.warm(space: "cnn", budget: usage.bytes - 1) == nil)

        let file = directory.appendingPathComponent("data.mdb").path
        let size = Int(try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber))
        let fd = open(file, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        let map = try #require(mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0))
        #expect(map != MAP_FAILED)
        defer { munmap(map, size) }
        var residency = [UInt8](repeating: 0, count: (size + usage.pageSize - 1) / usage.pageSize)
        func resident() -> Int {
            guard mincore(map, size, &residency) == 0 else { return -1 }
            return residency.reduce(0) { $0 + Int($1 & 1) }
        }
        // Clean pages no process has mapped leave the cache (on tmpfs they cannot, and `before`
        // is every page).
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        let before = resident()
        #expect(try store.warm(space: "cnn", budget: usage.bytes) == 500 * (1280 * 4 + VectorRecordHeader.size))
        #expect(
            resident() >= usage.overflowPages,
            "resident pages: \(before) after eviction, \(resident()) after warming; the space's records take \(usage.overflowPages)"
        )
    }

    /// Where the bytes go: a 1280-d float32 record (5 KiB and a header) takes two 4 KiB overflow
    /// pages, a 61-d one fits in a leaf beside others.
    @Test func usageCountsThePagesOfEachSpace() throws {
        let store = try VectorStore(directory: temporaryDirectory("store"), spaces: spaces, logger: testLogger)
        try store.write { batch throws(VectorStoreError) in
            for id in UInt64(1)...100 {
                try batch.put(ItemID(id), vector(id, 1280), space: "cnn")
                try batch.put(ItemID(id), vector(id, 61), space: "style")
            }
        }
        let cnn = try store.usage(space: "cnn"), style = try store.usage(space: "style")
        #expect(cnn.entries == 100 && style.entries == 100)
        #expect(cnn.pageSize == style.pageSize && cnn.bytesPerEntry > 5120, "\(cnn)")
        if cnn.pageSize == 4096 {  // the page size is the system's; these are x86-64 Linux's numbers
            #expect(cnn.overflowPages == 200 && cnn.bytesPerEntry >= 8192 && cnn.bytesPerEntry < 8400, "\(cnn)")
        }
        #expect(style.overflowPages == 0 && style.bytesPerEntry < 400, "\(style)")
        #expect(try store.usage(space: "phash").bytes == 0)
    }

    @Test func updateReplacesAndDeleteRemovesFromEverySpace() throws {
        let store = try VectorStore(directory: temporaryDirectory("store"), spaces: spaces, logger: testLogger)
        try store.write { batch throws(VectorStoreError) in
            try batch.put(ItemID(1), vector(1, 61), space: "style")
            try batch.put(ItemID(1), vector(1, 1280), space: "cnn")
        }
        try store.write { batch throws(VectorStoreError) in try batch.put(ItemID(1), vector(99, 61), space: "style") }
        #expect(try store.vector(ItemID(1), space: "style") == vector(99, 61))
        var removed = 0
        try store.write { batch throws(VectorStoreError) in removed = try batch.delete(ItemID(1)) }
        #expect(removed == 2)
        #expect(try store.ids(space: "cnn").isEmpty && store.ids(space: "style").isEmpty)
    }

    @Test func aFailedBatchLeavesNothingBehind() throws {
        let store = try VectorStore(directory: temporaryDirectory("store"), spaces: spaces, logger: testLogger)
        #expect(throws: VectorStoreError.self) {
            try store.write { batch throws(VectorStoreError) in
                try batch.put(ItemID(1), vector(1, 61), space: "style")
                try batch.put(ItemID(2), vector(2, 60), space: "style")  // wrong dimension
            }
        }
        #expect(try store.count(space: "style") == 0)
    }

    @Test func wrongShapesAndUnknownSpacesAreRejectedWithTheReason() throws {
        let directory = temporaryDirectory("store")
        let store = try VectorStore(directory: directory, spaces: spaces, logger: testLogger)
        do {
            try store.write { batch throws(VectorStoreError) in
                try batch.put(ItemID(3), [Float](repeating: 0, count: 12), space: "cnn")
            }
            Issue.record("a 12-component vector went into a 1280-d space")
        } catch {
            #expect(error.description == "space cnn, item 3: vector has 12 components, the space holds 1280")
        }
        do {
            try store.write { batch throws(VectorStoreError) in
                try batch.put(ItemID(3), [Float](repeating: 0, count: 8), space: "phash")
            }
            Issue.record("floats went into a byte space")
        } catch {
            #expect(error.description.contains("vector is float32, the space holds uint8"))
        }
        #expect { try store.count(space: "clip") } throws: {
            "\($0)".contains("no such space (known: cnn, phash, style)")
        }
        // Reopening with another dimension for an existing space says what to do.
        #expect {
            try VectorStore(
                directory: directory, spaces: [VectorSpace(name: "cnn", dimension: 512)], logger: testLogger)
        } throws: { "\($0)".contains("kindred store drop-space cnn") }
    }

    @Test func aNewProducerMarksOldRecordsStale() throws {
        let directory = temporaryDirectory("store")
        let v1 = VectorSpace(name: "cnn", dimension: 4, producer: 1)
        do {
            let store = try VectorStore(directory: directory, spaces: [v1], logger: testLogger)
            try store.write { batch throws(VectorStoreError) in
                for id in UInt64(1)...3 { try batch.put(ItemID(id), vector(id, 4), space: "cnn") }
            }
        }
        var v2 = v1
        v2.producer = 2
        let store = try VectorStore(directory: directory, spaces: [v2], logger: testLogger)
        try store.write { batch throws(VectorStoreError) in try batch.put(ItemID(2), vector(2, 4), space: "cnn") }
        #expect(try store.staleItems(space: "cnn") == [ItemID(1), ItemID(3)])
    }

    @Test func corruptOrForeignRecordsAreRejected() throws {
        let store = try VectorStore(directory: temporaryDirectory("store"), spaces: spaces, logger: testLogger)
        let db = try store.lookup("style", item: nil).1
        let good = vector(1, 61)
        try store.write { batch throws(VectorStoreError) in try batch.put(ItemID(1), good, space: "style") }
        let foreign: [(UInt64, [UInt8], String)] = [
            (2, Array("not a vector".utf8), "shorter than the 16-byte header"),
            (3, [0x4B, 0x56, 9, 1] + [UInt8](repeating: 0, count: 12), "record format version 9"),
            (4, [0x00, 0x56, 1, 1] + [UInt8](repeating: 0, count: 12), "bad magic"),
            (
                5, [0x4B, 0x56, 1, 1, 60, 0, 0, 0] + [UInt8](repeating: 0, count: 8 + 240),
                "record holds 60 × float32, space is 61 × float32"
            ),
            (6, [0x4B, 0x56, 1, 1, 61, 0, 0, 0] + [UInt8](repeating: 0, count: 8 + 100), "header promises 260"),
        ]
        for (key, bytes, message) in foreign {
            try store.environment.write { txn in try txn.put(db, key, count: bytes.count) { $0.copyBytes(from: bytes) }
            }
            #expect { try store.vector(ItemID(key), space: "style") } throws: { error in
                "\(error)".contains("space style, item \(key): corrupt or foreign record")
                    && "\(error)".contains(message)
            }
            // A bulk read names the bad record instead of returning garbage.
            #expect { try store.readAll(space: "style") } throws: { "\($0)".contains("item \(key)") }
            _ = try store.environment.write { txn in try txn.delete(db, key) }
        }
        #expect(try store.readMatrix(space: "style").matrix.row(0) == good)
    }

    @Test func theMapGrowsPastASmallInitialSize() throws {
        var options = LMDBEnvironment.Options()
        options.initialMapSize = 1 << 20
        let store = try VectorStore(
            directory: temporaryDirectory("grow"), spaces: spaces, options: options, logger: testLogger)
        // 4,000 × 1280 floats is about 20 MiB: the map must double several times, some of them
        // in the middle of a batch, which is then retried whole.
        for chunk in 0..<8 {
            try store.write { batch throws(VectorStoreError) in
                for id in UInt64(chunk * 500 + 1)...UInt64(chunk * 500 + 500) {
                    try batch.put(ItemID(id), vector(id, 1280), space: "cnn")
                }
            }
        }
        #expect(store.environment.mapSize >= 16 << 20)
        let (ids, matrix) = try store.readMatrix(space: "cnn")
        #expect(ids.count == 4000)
        #expect(matrix.row(3999) == vector(4000, 1280))
    }

    @Test func readersSeeASnapshotWhileTheWriterCommits() throws {
        let store = try VectorStore(directory: temporaryDirectory("mvcc"), spaces: spaces, logger: testLogger)
        try store.write { batch throws(VectorStoreError) in try batch.put(ItemID(1), vector(1, 61), space: "style") }
        let db = try store.lookup("style", item: nil).1
        try store.environment.read { txn in
            // Another thread commits while this snapshot is open; the snapshot does not change.
            let writer = Thread {
                try! store.write { batch throws(VectorStoreError) in
                    try batch.put(ItemID(2), self.vector(2, 61), space: "style")
                }
            }
            writer.start()
            while try store.count(space: "style") < 2 { usleep(1000) }
            #expect(try txn.count(db) == 1)
        }
        #expect(try store.count(space: "style") == 2)
    }
}
