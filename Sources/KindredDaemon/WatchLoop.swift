import Foundation
import KindredCore
import KindredStore
import KindredWatch
import Logging
import Synchronization

/// What the ingestion thread is doing, shared with STATUS and systemd's STATUS= line.
public final class IngestProgress: Sendable {
    public struct State: Sendable {
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
        public init() {}
    }

    private let state = Mutex(State())

    public init() {}

    public var current: State { state.withLock { $0 } }

    public func update<R>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }
}

/// Requests the socket forwards to the ingestion thread, which owns the watcher and the ingestor.
public enum ControlCommand: Sendable, Equatable {
    /// Reconcile every root (nil) or one directory inside a root with the disk.
    case rescan(String?)
    /// Start following a root the catalog already lists.
    case watch(String)
    /// Stop following a root and drop its items.
    case unwatch(String)
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
        Thread { [self] in
            defer { finished.signal() }
            run()
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
        func refreshRoots() {
            do { roots = try catalog.roots() } catch { logger.error("cannot list roots", metadata: ["error": "\(error)"]) }
        }
        func rootID(of path: String) -> Int64? {
            roots.first { path.hasPrefix($0.path + "/") }?.id
        }

        /// Ingests `files`, root by root, stopping between batches when asked to.
        func ingest(_ files: [String]) -> Ingestor.Report {
            var report = Ingestor.Report()
            for (id, paths) in Dictionary(grouping: files, by: rootID(of:)).sorted(by: { ($0.key ?? 0) < ($1.key ?? 0) }) where !stopRequested {
                do {
                    let r = try ingestor.ingest(paths.sorted(), rootID: id, shouldStop: { stopRequested }) { settled in
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

        /// Reconciles `directory` (a root or a directory inside one) with the disk.
        func rescan(_ directory: String) {
            progress.update { $0.scanning = true }
            defer { progress.update { $0.scanning = false } }
            let files = watcher.add(root: directory)
            progress.update { $0.pending += files.count }
            do {
                let gone = try ingestor.removeVanished(under: directory, present: Set(files))
                let report = ingest(files)
                logger.info("scanned", metadata: ["directory": "\(directory)", "indexed": "\(report.indexed)", "unchanged": "\(report.unchanged)",
                                                  "failed": "\(report.failed)", "removed": "\(gone)"])
            } catch {
                logger.error("scan failed", metadata: ["directory": "\(directory)", "error": "\(error)"])
            }
        }

        func rescanAll() {
            refreshRoots()
            for root in roots where !stopRequested { rescan(root.path) }
            progress.update { $0.pending = 0 }
        }

        var settling: [String: Date] = [:]
        func apply(_ command: ControlCommand) {
            switch command {
            case .rescan(let directory):
                if let directory { rescan(directory) } else { rescanAll() }
            case .watch(let root):
                refreshRoots()
                rescan(root)
            case .unwatch(let root):
                watcher.remove(root: root)
                settling = settling.filter { !$0.key.hasPrefix(root + "/") }
                do {
                    let removed = try ingestor.remove(directory: root)
                    logger.info("unwatched", metadata: ["root": "\(root)", "removed": "\(removed)"])
                } catch {
                    logger.error("unwatch failed", metadata: ["root": "\(root)", "error": "\(error)"])
                }
                refreshRoots()
            }
        }

        rescanAll()
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
                        if try !ingestor.remove(path: path) { try ingestor.remove(directory: path) }
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
            if progress.current.problem != nil, now.timeIntervalSince(lastRetry) >= Self.retrySeconds {
                lastRetry = now
                rescanAll()
            }
            if !watcher.unwatched.isEmpty, now.timeIntervalSince(lastPoll) >= configuration.pollSeconds {
                lastPoll = now
                for (directory, files) in watcher.pollUnwatched() {
                    do { try ingestor.removeVanished(under: directory, present: Set(files)) } catch {
                        logger.error("polling failed", metadata: ["directory": "\(directory)", "error": "\(error)"])
                    }
                    _ = ingest(files)
                }
            }
            if ingestor.changes != snapshotChanges, now.timeIntervalSince(lastSnapshot) >= configuration.snapshotSeconds {
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

    private func notifyFollowing(roots: Int) {
        Systemd.notify("STATUS=following \(roots) root\(roots == 1 ? "" : "s"), \(ingestor.indexes.cnn.index.count) images indexed")
    }
}
