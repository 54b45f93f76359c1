import Foundation
import KindredCore
import KindredEngine
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredStore
import KindredTestSupport
import Testing

/// The engine driven without a socket: open, load, follow the roots, stop, reopen.
@Suite(.serialized) struct CollectionTests {
    let root = temporaryDirectory("engine")

    func image(_ seed: UInt64, _ name: String, in directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(Fixtures.jpeg(composition(width: 300, height: 240, seed: seed))).write(
            to: directory.appendingPathComponent(name))
    }

    func waitFor(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Issue.record("timed out waiting for \(what)")
    }

    var settings: Collection.Settings {
        var settings = Collection.Settings()
        settings.watch.settleSeconds = 0.1
        settings.threads = 2
        settings.batchSize = 4
        return settings
    }

    @Test func theEngineFollowsItsRootsThroughEveryPhase() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        for seed in UInt64(1)...5 { try image(seed, "a\(seed).jpg", in: art) }
        let paths = StatePaths(root: root.appendingPathComponent("state"))
        try paths.create()
        let collection = try Collection(paths: paths, settings: settings, roots: [art.path], logger: testLogger)
        #expect(collection.progress.current.phase == .starting)
        #expect(try collection.catalog.rootSet().roots.map(\.string) == [art.path])

        let running = try collection.load(weights: convertedWeights)
        #expect(collection.progress.current.phase == .loading)
        collection.start()
        try waitFor("the first scan") {
            collection.progress.current.phase == .watching && collection.progress.current.pending == 0
        }
        #expect(try collection.catalog.statusCounts()[.indexed] == 5)
        #expect(running.indexes.cnn.index.count == 5 && running.indexes.style.index.count == 5)

        // A file added while watching is indexed, and its own vector finds it first.
        try image(6, "b6.jpg", in: art)
        try waitFor("the new file") {
            try collection.catalog.statusCounts()[.indexed] == 6 && running.indexes.cnn.index.count == 6
        }
        let added = try #require(try collection.catalog.item(path: art.appendingPathComponent("b6.jpg").path)?.itemID)
        let vector = try #require(try collection.store.vector(added, space: Space.cnn.name))
        #expect(try running.indexes.cnn.index.search(vector, k: 1).first?.label == added.rawValue)

        let indexedAt = try collection.catalog.item(added)?.lastIndexed
        #expect(indexedAt != nil)
        #expect(try collection.stop())
        #expect(collection.progress.current.phase == .stopped)

        // Reopened a second later (last_indexed counts whole seconds, so a re-extraction would
        // show): the snapshot is loaded, nothing is extracted again.
        Thread.sleep(forTimeInterval: 1.1)
        let again = try Collection(paths: paths, settings: settings, logger: testLogger)
        let reloaded = try again.load(weights: convertedWeights)
        #expect(reloaded.indexes.cnn.index.count == 6)
        again.start()
        try waitFor("the second first scan") {
            again.progress.current.phase == .watching && again.progress.current.pending == 0
        }
        #expect(try again.catalog.item(added)?.lastIndexed == indexedAt, "the reopened collection re-extracted it")
        try again.stop()
    }

    /// The snapshots record the store generation they reflect: a start that finds the store and
    /// the snapshot files unchanged loads them without the pass over every record; a write to
    /// the store since, or a snapshot file replaced, is reconciled as before.
    @Test func snapshotsProvedCurrentSkipReconcilingAndAnyChangeSinceIsReconciled() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        for seed in UInt64(1)...4 { try image(seed, "a\(seed).jpg", in: art) }
        let paths = StatePaths(root: root.appendingPathComponent("state"))
        try paths.create()
        let collection = try Collection(paths: paths, settings: settings, roots: [art.path], logger: testLogger)
        let running = try collection.load(weights: convertedWeights)
        collection.start()
        try waitFor("the first scan") {
            collection.progress.current.phase == .watching && collection.progress.current.pending == 0
                && running.indexes.cnn.index.count == 4
        }
        #expect(try collection.stop())
        #expect(FileManager.default.fileExists(atPath: paths.indexGeneration.path))
        func reopen() throws -> (LiveIndexes, [String: LiveIndex.OpenReport]) {
            try LiveIndexes.open(paths: paths, store: collection.store, catalog: collection.catalog, logger: testLogger)
        }
        let (current, proved) = try reopen()
        #expect(proved.values.allSatisfy { $0.loadedSnapshot && !$0.reconciled && $0.added == 0 }, "\(proved)")
        #expect(current.cnn.index.count == 4 && current.style.index.count == 4)

        // A write to the store while the indexes were closed: both are reconciled and follow it.
        let gone = try #require(try collection.catalog.item(path: art.appendingPathComponent("a2.jpg").path)?.itemID)
        try collection.state.remove([gone])
        let (followed, reconciled) = try reopen()
        #expect(reconciled.values.allSatisfy { $0.loadedSnapshot && $0.reconciled && $0.removed == 1 }, "\(reconciled)")
        #expect(!followed.cnn.index.contains(label: gone.rawValue) && followed.cnn.index.count == 3)

        // Saved again, the record is current again; a snapshot file replaced by another is not.
        try followed.save(in: paths)
        #expect(try reopen().1.values.allSatisfy { !$0.reconciled })
        let snapshot = paths.index(space: Space.cnn.name), copy = snapshot.appendingPathExtension("copy")
        try FileManager.default.copyItem(at: snapshot, to: copy)
        #expect(rename(copy.path, snapshot.path) == 0)
        let afterCopy = try reopen().1
        #expect(afterCopy[Space.cnn.name]?.reconciled == true && afterCopy[Space.style.name]?.reconciled == false)

        // A damaged record only means reconciling.
        try Data("{not json".utf8).write(to: paths.indexGeneration)
        #expect(try reopen().1.values.allSatisfy { $0.reconciled })
    }

    @Test func rootsAreHeldToTheRulesWhenOpened() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let paths = StatePaths(root: root.appendingPathComponent("state"))
        try paths.create()
        #expect(throws: PathError.self) {
            try Collection(paths: paths, settings: settings, roots: ["/"], logger: testLogger)
        }
        #expect(throws: PathError.self) {
            try Collection(
                paths: paths, settings: settings, roots: [root.appendingPathComponent("missing").path],
                logger: testLogger)
        }
        let art = root.appendingPathComponent("art")
        try FileManager.default.createDirectory(
            at: art.appendingPathComponent("inner"), withIntermediateDirectories: true)
        #expect(throws: PathError.self) {
            try Collection(
                paths: paths, settings: settings, roots: [art.path, art.appendingPathComponent("inner").path],
                logger: testLogger)
        }
    }
}
