import Foundation
import KindredCore
import KindredTestSupport
import Testing

@testable import KindredStore

/// Start-up's scans (repair, stale producers) are skipped only after a clean stop with the same
/// spaces, and every open consumes the marker, so a crash or another writer leaves none.
@Suite struct CleanStopTests {
    @Test func onlyACleanStopWithTheSameSpacesSkipsTheStartUpScans() throws {
        let paths = StatePaths(root: temporaryDirectory("clean-stop"))
        let v1 = VectorSpace(name: "cnn", dimension: 4, producer: 1)
        func open(_ space: VectorSpace = v1) throws -> StateStore {
            try StateStore(paths: paths, spaces: [space], logger: testLogger)
        }
        do {
            let state = try open()
            #expect(!state.vectors.openedAfterCleanStop, "a new state has had no stop")
            let item = try state.catalog.enqueue(path: "/a.jpg", size: 1, mtimeNs: 1).item
            try state.index([
                StateStore.Indexed(
                    extraction: Catalog.Extraction(
                        id: ItemID(UInt64(item.id!)), contentHash: "h", width: 1, height: 1, format: "png"),
                    vectors: [(space: "cnn", value: .floats([1, 0, 0, 0]))])
            ])
            try state.sync()
            try state.markCleanStop()
        }
        let clean = try open()
        #expect(clean.vectors.openedAfterCleanStop)
        #expect(try clean.startUpChecks(requiredSpaces: ["cnn"], staleSpaces: ["cnn"], logger: testLogger) == nil)
        // The marker was consumed: a process that dies now leaves none, and the next start scans.
        #expect(!FileManager.default.fileExists(atPath: paths.vectors.appendingPathComponent("clean-stop").path))
        #expect(try !open().vectors.openedAfterCleanStop)
        // A clean stop under producer 1, then a build with producer 2: the stale scan must run.
        try open().markCleanStop()
        var v2 = v1
        v2.producer = 2
        let upgraded = try open(v2)
        #expect(!upgraded.vectors.openedAfterCleanStop)
        #expect(try upgraded.startUpChecks(requiredSpaces: ["cnn"], staleSpaces: ["cnn"], logger: testLogger) == 1)
    }
}
