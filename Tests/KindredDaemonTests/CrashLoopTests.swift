import Foundation
import KindredCore
import KindredEngine
import KindredIndex
import KindredServer
import KindredStore
import KindredTestSupport
import Logging
import Testing

/// kindredd killed with SIGKILL at random moments while it ingests, with files added, renamed
/// and deleted between restarts; after the last restart nothing may be lost, doubled or orphaned.
/// (`KINDRED_CRASH_LOOPS` raises the count for a soak; the suite runs 20.)
@Suite(.serialized) struct CrashLoopTests {
    let root = temporaryDirectory("crash")

    @Test func killedAtRandomItRecoversToExactlyTheFilesOnDisk() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        try FileManager.default.createDirectory(at: art, withIntermediateDirectories: true)
        var random = SeededRandom(seed: 2026)
        var next: UInt64 = 1
        func add(_ count: Int) throws {
            for _ in 0..<count {
                let image = composition(width: 160 + Int(next % 7) * 16, height: 120, seed: next)
                try Data(Fixtures.jpeg(image, quality: 80)).write(to: art.appendingPathComponent("img\(next).jpg"))
                next += 1
            }
        }
        func files() throws -> Set<String> {
            Set(
                try FileManager.default.contentsOfDirectory(atPath: art.path).map {
                    art.appendingPathComponent($0).path
                })
        }
        try add(30)
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        let loops = Int(ProcessInfo.processInfo.environment["KINDRED_CRASH_LOOPS"] ?? "") ?? 20
        for _ in 0..<loops {
            try daemon.start()
            Thread.sleep(forTimeInterval: 0.1 + Double(random.below(1200)) / 1000)
            #expect(try daemon.stop(SIGKILL).status == SIGKILL)
            // While it is down: two new files, one renamed, one deleted.
            try add(2)
            let present = try files().sorted()
            let renamed = present[random.below(present.count)]
            try FileManager.default.moveItem(
                atPath: renamed,
                toPath: art.appendingPathComponent("r\(next)-" + URL(fileURLWithPath: renamed).lastPathComponent).path)
            next += 1
            let remaining = try files().sorted()
            try FileManager.default.removeItem(atPath: remaining[random.below(remaining.count)])
        }
        let expected = try files()
        try daemon.start()
        try daemon.waitUntilIdle(indexed: expected.count, failed: 0, queued: 0)
        let answers = try allAnswers(daemon, paths: expected.sorted())
        #expect(try daemon.stop().status == 0)

        // Exactly the files on disk, each once; no vectors without a row or rows without vectors.
        let state = StatePaths(root: daemon.state)
        do {
            let catalog = try Catalog(url: state.catalog, logger: testLogger)
            let store = try VectorStore(directory: state.vectors, spaces: StandardSpaces.all, logger: testLogger)
            let indexed = try catalog.itemIDs(status: .indexed)
            let paths = Set(try indexed.compactMap { try catalog.item($0)?.path })
            let allItems = try catalog.itemIDs()
            #expect(paths == expected)
            #expect(indexed.count == expected.count && allItems.count == expected.count)
            for space in StandardSpaces.all {
                let ids = Set(try store.ids(space: space.name))
                #expect(ids == Set(indexed), "\(space.name)")
            }
            // The snapshot written at the clean stop: sound, and exactly the indexed items.
            let snapshot = try HNSWIndex.load(from: state.index(space: "cnn"), logger: testLogger)
            try snapshot.checkIntegrity()
            #expect(Set(snapshot.liveLabels()) == Set(indexed.map(\.rawValue)))
        }

        // And the answers equal those of a clean rebuild.
        for space in ["cnn", "style"] { try FileManager.default.removeItem(at: state.index(space: space)) }
        try daemon.start()
        try daemon.waitUntilIdle(indexed: expected.count)
        #expect(try allAnswers(daemon, paths: expected.sorted()) == answers)
        #expect(try daemon.stop().status == 0)
    }
}
