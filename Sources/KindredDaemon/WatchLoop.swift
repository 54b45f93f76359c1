import Foundation
import KindredCore
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
        public init() {}
    }

    private let state = Mutex(State())

    public init() {}

    public var current: State { state.withLock { $0 } }

    public func update<R>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }

    /// Moves to `phase` unless the collection is already past it (a stop during the first scan
    /// stays `draining`).
    public func advance(to phase: EnginePhase) {
        update { if $0.phase < phase { $0.phase = phase } }
    }
}

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
    let configuration: Configuration
    let catalog: Catalog
    let ingestor: Ingestor
    let progress: IngestProgress
    let paths: StatePaths
    let logger: Logger
    private let inbox = Mutex<[ControlCommand]>([])
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    public init(configuration: Configuration, ingestor: Ingestor, progress: IngestProgress, paths: StatePaths, logger: Logger) {
        self.configuration = configuration
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

    private var stopRequested: Bool { stopping.load(ordering: .acquiring) }

    /// Seconds between retries while ingestion is paused by a failed write.
    static let retrySeconds = 10.0

    /// Writes the index snapshots (each atomically: a temporary file, then a rename).
    public func writeSnapshot() throws {
        try ingestor.indexes.save(in: paths)
        let now = Date()
        progress.update { $0.lastSnapshot = now }
    }

    private func run() {
        let filter = PathFilter(include: configuration.include, exclude: configuration.exclude, hidden: configuration.hidden)
        let watcher: InotifyWatcher
        do { watcher = try InotifyWatcher(filter: filter, logger: logger) } catch {
            logger.critical("cannot start inotify; nothing will be indexed", metadata: ["error": "\(error)"])
            return
        }
        var roots: [CatalogRoot] = []
        var rootSet = RootSet()
        func refreshRoots() {
            do {
                roots = try catalog.roots()
                rootSet = RootSet(roots.compactMap { try? CollectionPath($0.path) })
            } catch {
                logger.error("cannot list roots", metadata: ["error": "\(error)"])
            }
        }
        func rootID(of path: String) -> Int64? {
            guard let path = try? CollectionPath(path), let root = rootSet.root(containing: path) else { return nil }
            return roots.first { $0.path == root.string }?.id
        }

        /// Ingests `files`, root by root, stopping between batches when asked to.
        func ingest(_ files: [String]) -> Ingestor.Report {
            var report = Ingestor.Report()
            for (id, paths) in Dictionary(grouping: files, by: rootID(of:)).sorted(by: { ($0.key ?? 0) < ($1.key ?? 0) }) where !stopRequested {
                do {
                    // Between batches: a backup waits for no scan (it may take hours), only for the batch in flight.
                    let r = try ingestor.ingest(paths.sorted(), rootID: id, shouldStop: { runBackups(); return stopRequested }) { settled in
                        let pending = progress.update { $0.pending = max(0, $0.pending - settled); return $0.pending }
                        Systemd.notify("STATUS=indexing: \(pending) files to go")
                    }
                    report.indexed += r.indexed; report.unchanged += r.unchanged; report.failed += r.failed; report.missing += r.missing
                    if progress.update({ state in defer { state.problem = nil }; return state.problem != nil }) {
                        logger.notice("ingestion resumed")
                    }
                } catch {
                    // The catalog and the store refused a write (a full disk, most likely): what was
                    // not committed stays queued, and a rescan retries it.
                    // LMDB reports a short write on a full disk as an I/O error, so say how full it is.
                    var fs = statvfs()
                    let free = statvfs(self.paths.root.path, &fs) == 0 ? " (\(UInt64(fs.f_bavail) * UInt64(fs.f_frsize) >> 20) MB free on the state directory's file system)" : ""
                    let first = progress.update { state in defer { state.problem = "\(error)\(free)" }; return state.problem == nil }
                    if first { logger.error("ingestion paused", metadata: ["files": "\(paths.count)", "error": "\(error)"]) }
                    Systemd.notify("STATUS=ingestion paused: \(error)")
                }
            }
            return report
        }

        /// Reconciles `directory` (a root or a directory inside one) with the disk. Nothing is
        /// removed on a listing's say-so unless the listing is known to be whole: a root that is
        /// gone, unreadable or on another device is paused with its items kept, and items under a
        /// subdirectory that could not be listed stay.
        func rescan(_ directory: CollectionPath, acceptingDevice: Bool = false) {
            refreshRoots()  // a root's device may have been recorded since
            guard let root = roots.first(where: { (try? CollectionPath($0.path)).map { directory.isWithin($0) } ?? false }) else {
                logger.warning("not rescanning a directory outside the roots", metadata: ["directory": "\(directory)"])
                return
            }
            if let problem = RootHealth.check(root, catalog: catalog, acceptingDevice: acceptingDevice, logger: logger) {
                let first = progress.update { state in defer { state.pausedRoots[root.path] = problem }; return state.pausedRoots[root.path] == nil }
                if first { logger.error("root paused; its items are kept", metadata: ["root": "\(root.path)", "reason": "\(problem)"]) }
                return
            }
            if progress.update({ $0.pausedRoots.removeValue(forKey: root.path) }) != nil {
                logger.notice("root resumed", metadata: ["root": "\(root.path)"])
            }
            progress.update { $0.scanning = true }
            defer { progress.update { $0.scanning = false } }
            let listing = watcher.add(root: directory)
            progress.update { $0.pending += listing.files.count; $0.skippedNames += listing.skippedNames.count }
            if let whole = listing.unlisted.first(where: { $0.directory == directory.string }) {
                progress.update { $0.pausedRoots[root.path] = "\(directory) cannot be listed: \(whole.reason)" }
            }
            do {
                let gone = try ingestor.removeVanished(under: directory, present: Set(listing.files), unknown: listing)
                let report = ingest(listing.files)
                logger.info("scanned", metadata: ["directory": "\(directory)", "indexed": "\(report.indexed)", "unchanged": "\(report.unchanged)",
                                                  "failed": "\(report.failed)", "removed": "\(gone)", "unlisted": "\(listing.unlisted.count)"])
            } catch {
                logger.error("scan failed", metadata: ["directory": "\(directory)", "error": "\(error)"])
            }
        }

        func rescanAll() {
            refreshRoots()
            for root in rootSet.roots where !stopRequested { rescan(root) }
            progress.update { $0.pending = 0 }
        }

        /// Runs the queued backups now, leaving other commands for the loop.
        func runBackups() {
            let backups = inbox.withLock { commands -> [ControlCommand] in
                let picked = commands.filter { if case .backup = $0 { true } else { false } }
                commands.removeAll { if case .backup = $0 { true } else { false } }
                return picked
            }
            for backup in backups { apply(backup) }
        }

        var settling: [String: Date] = [:]
        func apply(_ command: ControlCommand) {
            switch command {
            case .rescan(let directory):
                if let directory { rescan(directory, acceptingDevice: rootSet.roots.contains(directory)) } else { rescanAll() }
            case .watch(let root):
                refreshRoots()
                rescan(root)
            case .unwatch(let root):
                watcher.remove(root: root)
                settling = settling.filter { (try? CollectionPath($0.key))?.isWithin(root) != true }
                progress.update { _ = $0.pausedRoots.removeValue(forKey: root.string) }
                do {
                    let removed = try ingestor.remove(directory: root)
                    logger.info("unwatched", metadata: ["root": "\(root)", "removed": "\(removed)"])
                } catch {
                    logger.error("unwatch failed", metadata: ["root": "\(root)", "error": "\(error)"])
                }
                refreshRoots()
            case .backup(let destination, let reply):
                reply.fulfil(Result {
                    try StateBackup.write(to: destination, state: ingestor.state, indexes: ingestor.indexes, paths: paths)
                })
                logger.notice("backup written", metadata: ["directory": "\(destination)"])
            }
        }

        do {
            let orphans = try ingestor.removeOutsideRoots()
            if orphans > 0 { logger.notice("removed the items of a root unwatched before the last stop", metadata: ["items": "\(orphans)"]) }
        } catch {
            logger.error("cannot remove items outside the roots", metadata: ["error": "\(error)"])
        }
        rescanAll()
        progress.advance(to: .watching)
        notifyFollowing(roots: roots.count)
        var lastPoll = Date()
        var lastRetry = Date()
        var snapshotChanges = ingestor.changes
        var lastSnapshot = Date()
        while !stopRequested {
            for command in inbox.withLock({ commands in defer { commands.removeAll() }; return commands }) {
                apply(command)
                notifyFollowing(roots: roots.count)
            }
            for event in watcher.next(timeout: 0.25) {
                do {
                    switch event {
                    case .changed(let path): settling[path] = Date().addingTimeInterval(configuration.settleSeconds)
                    case .removed(let path):
                        settling[path] = nil
                        if try !ingestor.remove(path: path) { try ingestor.remove(directory: CollectionPath(path)) }
                    case .renamed(let from, let to):
                        settling[from] = nil
                        try ingestor.rename(from: from, to: to)
                    case .overflow:
                        logger.warning("inotify queue overflowed; rescanning every root")
                        progress.update { $0.overflows += 1 }
                        settling.removeAll()
                        rescanAll()
                    }
                } catch {
                    logger.error("event failed", metadata: ["event": "\(event)", "error": "\(error)"])
                }
            }
            let now = Date()
            let due = settling.filter { $0.value <= now }.map(\.key).sorted()
            progress.update {
                $0.pending = settling.count
                $0.polledDirectories = watcher.unwatched.count
            }
            if !due.isEmpty {
                for path in due { settling[path] = nil }
                _ = ingest(due)
            }
            let current = progress.current
            if current.problem != nil || !current.pausedRoots.isEmpty, now.timeIntervalSince(lastRetry) >= Self.retrySeconds {
                lastRetry = now
                if current.problem != nil {
                    rescanAll()
                } else {
                    for root in current.pausedRoots.keys.sorted() { if let root = try? CollectionPath(root) { rescan(root) } }
                }
            }
            if !watcher.unwatched.isEmpty, now.timeIntervalSince(lastPoll) >= configuration.pollSeconds {
                lastPoll = now
                for (directory, listing) in watcher.pollUnwatched() {
                    do { try ingestor.removeVanished(under: CollectionPath(directory), present: Set(listing.files), unknown: listing) } catch {
                        logger.error("polling failed", metadata: ["directory": "\(directory)", "error": "\(error)"])
                    }
                    _ = ingest(listing.files)
                }
            }
            if ingestor.changes != snapshotChanges, now.timeIntervalSince(lastSnapshot) >= configuration.snapshotSeconds {
                // Between batches, before the snapshot: the snapshot then holds no tombstones.
                let detached = ingestor.indexes.compactIfWorthIt()
                if !detached.isEmpty { logger.info("compacted the indexes", metadata: ["detached": "\(detached)"]) }
                do {
                    try writeSnapshot()
                    snapshotChanges = ingestor.changes
                    lastSnapshot = now
                    logger.debug("snapshot written", metadata: ["items": "\(ingestor.indexes.cnn.index.count)"])
                } catch {
                    logger.error("cannot write the index snapshot", metadata: ["error": "\(error)"])
                    lastSnapshot = now  // retried after another interval, not on every turn
                }
            }
        }
    }

    /// Answers the commands still queued when the thread stops, so no caller waits for ever.
    private func refuseQueued() {
        for command in inbox.withLock({ commands in defer { commands.removeAll() }; return commands }) {
            if case .backup(_, let reply) = command { reply.fulfil(.failure(StateBackup.Failure(description: "kindredd is stopping"))) }
        }
    }

    private func notifyFollowing(roots: Int) {
        Systemd.notify("STATUS=following \(roots) root\(roots == 1 ? "" : "s"), \(ingestor.indexes.cnn.index.count) images indexed")
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
        guard stat(root.path, &info) == 0 else { return "\(root.path) is not reachable (\(String(cString: strerror(errno)))); its items are kept" }
        guard info.st_mode & S_IFMT == S_IFDIR else { return "\(root.path) is no longer a directory; its items are kept" }
        guard access(root.path, R_OK | X_OK) == 0 else { return "\(root.path) cannot be read (\(String(cString: strerror(errno)))); its items are kept" }
        let device = Int64(bitPattern: UInt64(info.st_dev))
        guard let path = try? CollectionPath(root.path) else { return "\(root.path) is not a canonical path" }
        if root.device == nil || (acceptingDevice && root.device != device) {
            do { try catalog.setDevice(device, ofRoot: path) } catch { logger.error("cannot record the root's device", metadata: ["error": "\(error)"]) }
            return nil
        }
        guard root.device == device else {
            return "\(root.path) is on another device than when it was added (\(device), was \(root.device!)): unmounted? Its items are kept; RESCAN it to accept the new device"
        }
        return nil
    }
}
