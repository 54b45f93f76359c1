import Foundation
import KindredCore
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredStore
import Logging
import Synchronization

/// One image collection, whole: its state directory (the catalog and the vectors, committed in
/// `StateStore`'s order), its live indexes, the ingestion thread that follows its roots, and the
/// refit thread. What kindredd runs, and what a test drives without a socket.
///
/// Its life is one phase at a time (`EnginePhase`, in `progress`): `open` repairs and is
/// `starting`; `load` builds the indexes (`loading`); `start` begins the first scan (`scanning`,
/// then `watching`); `stop` drains and snapshots (`draining`, then `stopped`).
public final class Collection: Sendable {
    /// What the engine is given, from the configuration.
    public struct Settings: Sendable {
        public var watch = WatchSettings()
        public var refit = RefitSettings()
        public var hnsw = HNSWParameters()
        /// How the CNN index holds its vectors for the graph walk (int8 codes, re-ranked exactly
        /// against the store, unless set otherwise: Benchmarks/RESULTS.md has the measurement).
        public var cnnEncoding = VectorEncoding.int8
        /// Threads for extraction, index building and refits.
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        public var batchSize = 8
        /// The CNN's arithmetic, as this CPU runs it (`CNNPrecisionChoice.onThisCPU`).
        public var cnnPrecision = StandardSpaces.precision.onThisCPU.precision
        public var decode = DecodeOptions()

        public init() {}
    }

    public let paths: StatePaths
    public let state: StateStore
    public var catalog: Catalog { state.catalog }
    public var store: VectorStore { state.vectors }
    public let progress: IngestProgress
    let settings: Settings
    let logger: Logger
    private let running = Mutex<Running?>(nil)

    /// What `load` makes.
    public struct Running: Sendable {
        public let indexes: LiveIndexes
        public let loop: WatchLoop
        public let refits: RefitScheduler
    }

    /// Opens (and creates) the state directory: repairs what an unclean stop left, marks for
    /// re-extraction the items whose vectors an older producer made (they answer meanwhile), marks
    /// an interrupted refit failed, and adds `roots` (resolved, then held to the rules WATCH
    /// follows: never `/`, never nested).
    public init(paths: StatePaths, settings: Settings, roots: [String] = [], logger: Logger) throws {
        self.paths = paths
        self.settings = settings
        self.logger = logger
        progress = IngestProgress()
        try paths.create()
        state = try StateStore(paths: paths, spaces: StandardSpaces.all, includeRegistered: true, logger: logger)
        let stale =
            try state.startUpChecks(
                requiredSpaces: StandardSpaces.required.map(\.name), staleSpaces: StandardSpaces.all.map(\.name),
                logger: logger) ?? 0
        progress.update { $0.staleAtStart = stale }
        if stale > 0 {
            logger.notice(
                "vectors from an older producer; re-extracting in the background", metadata: ["items": "\(stale)"])
        }
        if try state.catalog.failInterruptedRuns() > 0 {
            logger.notice("a refit was interrupted by the last stop; it is marked failed")
        }
        var rootSet = try state.catalog.rootSet()
        for root in roots {
            let path = try CollectionPath.resolvingDirectory(root)
            try rootSet.validateNew(path)
            try state.catalog.addRoot(path, device: path.device)
            rootSet.insert(path)
        }
    }

    /// Loads the indexes (their snapshots, reconciled with the store, or built from it) and makes
    /// the ingestion and refit threads, not yet started. `probe`: where suspect files are decoded
    /// first (kindredd's own executable); `report`: one-line summaries of what the threads do.
    public func load(
        weights: ModelWeights, probe: DecodeProbe? = nil, report: @escaping StatusLine = { _ in }
    ) throws -> Running {
        progress.advance(to: .loading)
        let (indexes, opened) = try LiveIndexes.open(
            paths: paths, store: store, catalog: catalog, parameters: settings.hnsw,
            cnnEncoding: settings.cnnEncoding, threads: settings.threads, progress: progress, logger: logger)
        for (space, report) in opened.sorted(by: { $0.key < $1.key }) {
            logger.info(
                "index ready",
                metadata: [
                    "space": "\(space)", "size": "\(indexes(space)!.index.count)",
                    "snapshot": "\(report.loadedSnapshot)", "reconciled": "\(report.reconciled)",
                    "added": "\(report.added)", "updated": "\(report.updated)", "removed": "\(report.removed)",
                    "older_format": "\(report.olderFormat)",
                ])
        }
        let ingestor = Ingestor(
            state: state, indexes: indexes,
            network: try StandardSpaces.network(
                weights: weights, batchSize: settings.batchSize, threads: settings.threads,
                precision: settings.cnnPrecision),
            threads: settings.threads, stages: progress.stages, logger: logger)
        ingestor.decodeOptions = settings.decode
        ingestor.probe = probe
        let progress = self.progress
        // Snapshots proved current and opened unchanged need no rewriting at a stop without changes
        // (nor, in this file format, at one with them).
        let current = opened.values.allSatisfy {
            $0.loadedSnapshot && !$0.reconciled && !$0.rebuilt && !$0.reencoded && !$0.olderFormat
                && $0.added + $0.updated + $0.removed == 0
        }
        let loop = WatchLoop(
            settings: settings.watch, ingestor: ingestor, progress: progress, paths: paths, snapshotsCurrent: current,
            report: report, logger: logger)
        let head: ImageNetHead?
        do { head = try ModelFiles.head(from: paths, weights: weights) } catch {
            logger.warning(
                "clusters are named by folder only: no ImageNet class names",
                metadata: ["reason": "\(error)", "fix": "kindred model install"])
            head = nil
        }
        let refits = RefitScheduler(
            refitter: Refitter(
                catalog: catalog, store: store, indexes: indexes, settings: settings.refit,
                threads: settings.threads, paths: paths, head: head, logger: logger),
            settings: settings.refit, ingestionBusy: { progress.current.scanning || progress.current.pending > 0 },
            report: report, logger: logger)
        let made = Running(indexes: indexes, loop: loop, refits: refits)
        running.withLock { $0 = made }
        return made
    }

    /// Starts following the roots (the first scan, then inotify) and the refit schedule.
    public func start() {
        guard let running = running.withLock({ $0 }) else { return }
        running.loop.start()
        running.refits.start()
        warmPageCache()
    }

    /// Reads the CNN records into the page cache, on a background thread, when they fit in half
    /// the machine's memory (`VectorStore.warm`): SIMILAR re-ranks from them, and a cold cache
    /// after a restart costs a random disk read per candidate.
    private func warmPageCache() {
        let budget = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE))) / 2
        let store = store, logger = logger
        Thread.detachNewThread {
            let started = ContinuousClock.now
            do {
                if let bytes = try store.warm(space: Space.cnn.rawValue, budget: budget) {
                    logger.info(
                        "CNN records read into the page cache",
                        metadata: ["bytes": "\(bytes)", "took": "\(ContinuousClock.now - started)"])
                } else {
                    logger.info(
                        "CNN records larger than half the memory; not read ahead", metadata: ["budget": "\(budget)"])
                }
            } catch {
                logger.warning("could not read the CNN records ahead", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Stops the threads (a refit in progress is cancelled at its next check and recorded as
    /// failed; the batch in flight gets `seconds` to finish), writes the index snapshots and syncs
    /// the store. Returns whether the batch finished in time.
    @discardableResult
    public func stop(within seconds: Double = 8) throws -> Bool {
        progress.advance(to: .draining)
        defer { progress.advance(to: .stopped) }
        guard let running = running.withLock({ $0 }) else { return true }
        // The refit goes first: it reads the store and the live index that the snapshot and
        // the sync below write, and a process must not exit under it.
        if !running.refits.stop(within: 5) {
            logger.warning("the refit did not stop within 5 s of being cancelled")
        }
        let finished = running.loop.stop(within: seconds)
        if !finished {
            logger.warning("the batch in flight did not finish in time; the snapshot may miss it (start-up reconciles)")
        }
        if try !running.loop.writeSnapshotIfChanged() {
            logger.info("the snapshots on disk are current; not rewritten")
        }
        try state.sync()
        // Only a stop whose last batch committed whole leaves nothing for start-up to repair.
        if finished { try state.markCleanStop() }
        return finished
    }
}
