import Foundation
import KindredCore
import KindredIndex
import KindredStore
import KindredWatch
import Logging
import Synchronization

/// Where the collection is in its life: one phase at a time, moving forward only. STATUS reports
/// it as `state`; a client that waits for kindredd to settle waits for `watching`, since before
/// the first scan ends the catalog still lists files deleted while kindredd was down.
public enum EnginePhase: String, Sendable, Comparable, CaseIterable {
    /// Opening the state directory and repairing what an unclean stop left.
    case starting
    /// Loading the index snapshots, or building the indexes from the store.
    case loading
    /// The first scan of every root: catching up with what changed while kindredd was down.
    case scanning
    /// Following the roots with inotify.
    case watching
    /// Finishing the batch in flight and writing the snapshots.
    case draining
    case stopped

    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

/// What the ingestion thread is doing, shared with STATUS and systemd's STATUS= line.
public final class IngestProgress: Sendable {
    public struct State: Sendable {
        public var phase = EnginePhase.starting
        public var scanning = false
        /// Files seen but not yet read: a scan's remainder plus changed files settling.
        public var pending = 0
        public var lastSnapshot: Date?
        /// Why ingestion is paused (a full disk, say); nil while it works. Retried every
        /// `retrySeconds` with a rescan, which picks up whatever the failure left queued.
        public var problem: String?
        /// Directories inotify could not watch (the kernel's watch limit), polled instead.
        public var polledDirectories = 0
        /// How often the kernel's event queue overflowed, each answered by a full rescan.
        public var overflows = 0
        /// Roots that are not scanned, with why (gone, unreadable, on another device): their items
        /// are kept, and they are checked again every `retrySeconds`.
        public var pausedRoots: [String: String] = [:]
        /// Names skipped because they are not valid UTF-8, since start.
        public var skippedNames = 0
        /// Items whose vectors an older producer made (a new model or feature code), found at
        /// start and queued for re-extraction; the catalog's `queued` count shows them draining.
        public var staleAtStart = 0
        /// While the indexes open at start: each space's build from the store (a space read from
        /// its snapshot stays at 0 of 0); empty once they are open.
        public var indexBuilds: [String: BuildProgress] = [:]
        public init() {}
    }

    private let state = Mutex(State())
    /// Where ingestion's time has gone since start, stage by stage (the ingestor adds to it).
    public let stages = StageClock()

    public init() {}

    public var current: State { state.withLock { $0 } }

    public func update<R>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }

    /// Moves to `phase` unless the collection is already past it (a stop during the first scan
    /// stays `draining`).
    public func advance(to phase: EnginePhase) {
        update { if $0.phase < phase { $0.phase = phase } }
    }
}

/// A one-line summary of what a thread is doing, for whoever reports it (systemd's STATUS=).
public typealias StatusLine = @Sendable (String) -> Void

/// Requests the socket forwards to the ingestion thread, which owns the watcher and the ingestor.
public enum ControlCommand: Sendable {
    /// Reconcile every root (nil) or one directory inside a root with the disk. Naming a root
    /// that is paused because it now lives on another device accepts that device.
    case rescan(CollectionPath?)
    /// Start following a root the catalog already lists.
    case watch(CollectionPath)
    /// Stop following a root and drop its items.
    case unwatch(CollectionPath)
    /// Copy the state into a new directory between batches (StateBackup); the rows go to `reply`.
    case backup(CollectionPath, reply: Handover<Result<[[String]], any Error>>)
}

/// The ingestion thread: scans the roots at start (catching what changed while kindredd was down),
/// then follows inotify. A changed file waits until it has been quiet for the settle delay, so a
/// file still being copied is read once, whole. Directories beyond the inotify limit are polled.
/// It also applies `ControlCommand`s and writes the index snapshot periodically, between batches,
/// so a snapshot never sees a half-applied batch.
public final class WatchLoop: Sendable {
    let settings: WatchSettings
    let catalog: Catalog
    let ingestor: Ingestor
    let progress: IngestProgress
    let paths: StatePaths
    let logger: Logger
    private let inbox = Mutex<[ControlCommand]>([])
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Hears a one-line summary whenever what the thread does changes (systemd's STATUS=).
    let statusLine: StatusLine

    /// `ingestor.changes` when the snapshots on disk last held the indexes as they are (written
    /// since, or proved current at start); nil when they do not.
    private let snapshotMatches: Mutex<Int?>

    /// `snapshotsCurrent`: the indexes were opened from snapshots proved current, unchanged.
    public init(
        settings: WatchSettings, ingestor: Ingestor, progress: IngestProgress, paths: StatePaths,
        snapshotsCurrent: Bool = false, report: @escaping StatusLine = { _ in }, logger: Logger
    ) {
        snapshotMatches = Mutex(snapshotsCurrent ? ingestor.changes : nil)
        self.settings = settings
        self.statusLine = report
        self.catalog = ingestor.catalog
        self.ingestor = ingestor
        self.progress = progress
        self.paths = paths
        self.logger = logger
    }

    public func start() {
        progress.advance(to: .scanning)
        Thread { [self] in
            defer { finished.signal() }
            run()
            refuseQueued()
        }.start()
    }

    public func submit(_ command: ControlCommand) {
        inbox.withLock { $0.append(command) }
    }

    /// Asks the thread to stop after the batch in flight; returns whether it did within `seconds`.
    public func stop(within seconds: Double) -> Bool {
        stopping.store(true, ordering: .releasing)
        return finished.wait(timeout: .now() + seconds) == .success
    }

    var stopRequested: Bool { stopping.load(ordering: .acquiring) }

    /// Seconds between retries while ingestion is paused by a failed write.
    static let retrySeconds = 10.0

    /// Writes the index snapshots (each atomically: a temporary file, then a rename).
    public func writeSnapshot() throws {
        try ingestor.indexes.save(in: paths)
        snapshotMatches.withLock { $0 = ingestor.changes }
        let now = Date()
        progress.update { $0.lastSnapshot = now }
    }

    /// At a stop (after the ingestion thread has ended): the snapshots, unless those on disk
    /// already hold the indexes as they are. An idle daemon at a million items then stops at once
    /// instead of rewriting 1.8 GB. Returns whether it wrote them.
    @discardableResult
    public func writeSnapshotIfChanged() throws -> Bool {
        guard snapshotMatches.withLock({ $0 }) != ingestor.changes else { return false }
        try writeSnapshot()
        return true
    }

    private func run() {
        let filter = PathFilter(include: settings.include, exclude: settings.exclude, hidden: settings.hidden)
        let watcher: InotifyWatcher
        do { watcher = try InotifyWatcher(filter: filter, logger: logger) } catch {
            logger.critical("cannot start inotify; nothing will be indexed", metadata: ["error": "\(error)"])
            return
        }
        let session = WatchSession(loop: self, watcher: watcher)
        session.removeOrphans()
        session.rescanAll()
        progress.advance(to: .watching)
        notifyFollowing(roots: session.roots.count)
        while !stopRequested {
            for command in takeCommands() {
                session.apply(command)
                notifyFollowing(roots: session.roots.count)
            }
            for event in watcher.next(timeout: 0.25) { session.handle(event) }
            let now = Date()
            session.ingestSettled(now: now)
            session.retryPaused(now: now)
            session.pollUnwatched(now: now)
            session.snapshotIfDue(now: now)
        }
    }

    /// The commands queued since the last turn, oldest first.
    func takeCommands() -> [ControlCommand] {
        inbox.withLock { commands in
            defer { commands.removeAll() }; return commands
        }
    }

    /// The queued backups, taken out of the queue; other commands stay for the loop.
    func takeBackups() -> [ControlCommand] {
        inbox.withLock { commands -> [ControlCommand] in
            let picked = commands.filter { if case .backup = $0 { true } else { false } }
            commands.removeAll { if case .backup = $0 { true } else { false } }
            return picked
        }
    }

    /// Answers the commands still queued when the thread stops, so no caller waits for ever.
    private func refuseQueued() {
        for command in takeCommands() {
            if case .backup(_, let reply) = command {
                reply.fulfil(.failure(StateBackup.Failure(description: "kindredd is stopping")))
            }
        }
    }

    func notifyFollowing(roots: Int) {
        statusLine(
            "following \(roots) root\(roots == 1 ? "" : "s"), \(ingestor.indexes.cnn.index.count) images indexed")
    }
}

/// Whether a root can be scanned now. A root that is missing, not a directory, unreadable, or on
/// another device than when it was added (an unmounted share shows the mount point's parent file
/// system) is not: scanning it would take every item for deleted, and re-extracting them when the
/// share returns costs hours of CNN time at a million items.
enum RootHealth {
    /// nil when the root is fine; otherwise why it is paused. Records the device of a root added
    /// before devices were kept, and accepts a new one when `acceptingDevice` (an explicit RESCAN).
    static func check(_ root: CatalogRoot, catalog: Catalog, acceptingDevice: Bool, logger: Logger) -> String? {
        var info = stat()
        guard stat(root.path, &info) == 0 else {
            return "\(root.path) is not reachable (\(String(cString: strerror(errno)))); its items are kept"
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            return "\(root.path) is no longer a directory; its items are kept"
        }
        guard access(root.path, R_OK | X_OK) == 0 else {
            return "\(root.path) cannot be read (\(String(cString: strerror(errno)))); its items are kept"
        }
        let device = Int64(bitPattern: UInt64(info.st_dev))
        guard let path = try? CollectionPath(root.path) else { return "\(root.path) is not a canonical path" }
        if root.device == nil || (acceptingDevice && root.device != device) {
            do { try catalog.setDevice(device, ofRoot: path) } catch {
                logger.error("cannot record the root's device", metadata: ["error": "\(error)"])
            }
            return nil
        }
        guard root.device == device else {
            return
                "\(root.path) is on another device than when it was added (\(device), was \(root.device!)): unmounted? Its items are kept; RESCAN it to accept the new device"
        }
        return nil
    }
}
