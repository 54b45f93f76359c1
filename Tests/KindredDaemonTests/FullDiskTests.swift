import Foundation
import KindredCore
import KindredEngine
import KindredServer
import KindredStore
import KindredTestSupport
import Logging
import Testing

/// The state directory on a small tmpfs that fills while kindredd ingests: ingestion pauses with
/// the reason in STATUS, nothing is corrupted, and it resumes by itself when space returns.
/// Mounting a tmpfs needs root, so the test runs only as root (as CI does here).
@Suite(.serialized) struct FullDiskTests {
    let root = temporaryDirectory("full")

    func mount(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func ingestionPausesOnAFullDiskAndResumesWhenSpaceReturns() throws {
        let small = root.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
        // The weights take 18.5 MB of it; what is left fills after a few hundred images.
        #expect(try mount(["mount", "-t", "tmpfs", "-o", "size=21m", "none", small.path]) == 0)
        defer {
            _ = try? mount(["umount", "-l", small.path])
            try? FileManager.default.removeItem(at: root)
        }
        let art = root.appendingPathComponent("art")
        try FileManager.default.createDirectory(at: art, withIntermediateDirectories: true)
        for seed in UInt64(1)...400 {
            try Data(Fixtures.jpeg(composition(width: 96, height: 72, seed: seed), quality: 70)).write(
                to: art.appendingPathComponent("i\(seed).jpg"))
        }
        let daemon = try DaemonProcess(state: small.appendingPathComponent("state"), roots: [art])
        try daemon.start()
        try daemon.waitFor("ingestion to pause on the full disk", seconds: 120) {
            try daemon.status()["ingest_problem"]?.isEmpty == false
        }
        let problem = try daemon.status()["ingest_problem"] ?? ""
        #expect(problem.hasPrefix("vector store:") || problem.hasPrefix("catalog"), "\(problem)")
        #expect(
            problem.hasSuffix("MB free on the state directory's file system)")
                && (problem.contains("(0 MB free") || problem.contains("(1 MB free")), "\(problem)")
        #expect(try daemon.ask("PING") == ["OK 1", "pong"], "still answering")
        print("full disk: STATUS ingest_problem = \(problem)")

        // Space returns: ingestion resumes within its retry interval and finishes.
        #expect(try mount(["mount", "-o", "remount,size=256m", small.path]) == 0)
        try daemon.waitUntilIdle(indexed: 400, failed: 0)
        #expect(try daemon.status()["ingest_problem"] == "")
        #expect(try daemon.stop().status == 0)

        // Nothing half-written: the catalog and every vector space agree.
        let state = StatePaths(root: daemon.state)
        let catalog = try Catalog(url: state.catalog, logger: testLogger)
        let store = try VectorStore(directory: state.vectors, spaces: StandardSpaces.all, logger: testLogger)
        let indexed = Set(try catalog.itemIDs(status: .indexed))
        #expect(indexed.count == 400)
        for space in StandardSpaces.all {
            let ids = Set(try store.ids(space: space.name))
            #expect(ids == indexed, "\(space.name)")
        }
        #expect(
            try StateStore(catalog: catalog, vectors: store).repair(
                requiredSpaces: StandardSpaces.required.map(\.name), logger: testLogger) == RepairReport())
    }
}
