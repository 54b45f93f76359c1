import Foundation
import KindredCore
import KindredStore
import KindredWatch
import Logging

/// What the ingestion thread holds while it runs: the inotify watcher, the roots as last read
/// from the catalog, the files waiting to settle, and when it last polled, retried and wrote a
/// snapshot. `WatchLoop.run` turns the loop; each step is a method here. Used by that one thread.
final class WatchSession {
    let loop: WatchLoop
    let watcher: InotifyWatcher
    private(set) var roots: [CatalogRoot] = []
    private var rootSet = RootSet()
    /// Changed files and when they will have been quiet for the settle delay.
    private var settling: [String: Date] = [:]
    private var lastPoll = Date(), lastRetry = Date(), lastSnapshot = Date()
    private var snapshotChanges: Int

    private var ingestor: Ingestor { loop.ingestor }
    private var catalog: Catalog { loop.catalog }
    private var progress: IngestProgress { loop.progress }
    private var logger: Logger { loop.logger }

    init(loop: WatchLoop, watcher: InotifyWatcher) {
        self.loop = loop
        self.watcher = watcher
        snapshotChanges = loop.ingestor.changes
    }

    // MARK: Roots

    func refreshRoots() {
        do {
            roots = try catalog.roots()
            rootSet = RootSet(roots.compactMap { try? CollectionPath($0.path) })
        } catch {
            logger.error("cannot list roots", metadata: ["error": "\(error)"])
        }
    }

    private func rootID(of path: String) -> Int64? {
        guard let path = try? CollectionPath(path), let root = rootSet.root(containing: path) else { return nil }
        return roots.first { $0.path == root.string }?.id
    }

    /// The items of a root unwatched before the last stop (UNWATCH drops the root first).
    func removeOrphans() {
        do {
            let orphans = try ingestor.removeOutsideRoots()
            if orphans > 0 {
                logger.notice(
                    "removed the items of a root unwatched before the last stop", metadata: ["items": "\(orphans)"])
            }
        } catch {
            logger.error("cannot remove items outside the roots", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Ingestion

    /// Ingests `files`, root by root, stopping between batches when asked to.
    @discardableResult
    func ingest(_ files: [String]) -> Ingestor.Report {
        var report = Ingestor.Report()
        for (id, paths) in Dictionary(grouping: files, by: rootID(of:)).sorted(by: { ($0.key ?? 0) < ($1.key ?? 0) })
        where !loop.stopRequested {
            do {
                // Between batches: a backup waits for no scan (it may take hours), only for the batch in flight.
                let r = try ingestor.ingest(
                    paths.sorted(), rootID: id,
                    shouldStop: {
                        runBackups(); return loop.stopRequested
                    }
                ) { settled in
                    let pending = progress.update {
                        $0.pending = max(0, $0.pending - settled); return $0.pending
                    }
                    loop.statusLine("indexing: \(pending) files to go")
                }
                report.indexed += r.indexed; report.unchanged += r.unchanged; report.failed += r.failed;
                report.missing += r.missing
                if progress.update({ state in
                    defer { state.problem = nil }; return state.problem != nil
                }) {
                    logger.notice("ingestion resumed")
                }
            } catch {
                pause(error, files: paths.count)
            }
        }
        return report
    }

    /// The catalog and the store refused a write (a full disk, most likely): what was not
    /// committed stays queued, and a rescan every `retrySeconds` retries it.
    private func pause(_ error: any Error, files: Int) {
        // LMDB reports a short write on a full disk as an I/O error, so say how full it is.
        var fs = statvfs()
        let free =
            statvfs(loop.paths.root.path, &fs) == 0
            ? " (\(UInt64(fs.f_bavail) * UInt64(fs.f_frsize) >> 20) MB free on the state directory's file system)" : ""
        let first = progress.update { state in
            defer { state.problem = "\(error)\(free)" }; return state.problem == nil
        }
        if first { logger.error("ingestion paused", metadata: ["files": "\(files)", "error": "\(error)"]) }
        loop.statusLine("ingestion paused: \(error)")
    }

    /// Reconciles `directory` (a root or a directory inside one) with the disk. Nothing is
    /// removed on a listing's say-so unless the listing is known to be whole: a root that is
    /// gone, unreadable or on another device is paused with its items kept, and items under a
    /// subdirectory that could not be listed stay.
    func rescan(_ directory: CollectionPath, acceptingDevice: Bool = false) {
        refreshRoots()  // a root's device may have been recorded since
        guard let root = roots.first(where: { (try? CollectionPath($0.path)).map { directory.isWithin($0) } ?? false })
        else {
            logger.warning("not rescanning a directory outside the roots", metadata: ["directory": "\(directory)"])
            return
        }
        if let problem = RootHealth.check(root, catalog: catalog, acceptingDevice: acceptingDevice, logger: logger) {
            let first = progress.update { state in
                defer { state.pausedRoots[root.path] = problem }; return state.pausedRoots[root.path] == nil
            }
            if first {
                logger.error(
                    "root paused; its items are kept", metadata: ["root": "\(root.path)", "reason": "\(problem)"])
            }
            return
        }
        if progress.update({ $0.pausedRoots.removeValue(forKey: root.path) }) != nil {
            logger.notice("root resumed", metadata: ["root": "\(root.path)"])
        }
        progress.update { $0.scanning = true }
        defer { progress.update { $0.scanning = false } }
        let listing = watcher.add(root: directory)
        progress.update {
            $0.pending += listing.files.count; $0.skippedNames += listing.skippedNames.count
        }
        if let whole = listing.unlisted.first(where: { $0.directory == directory.string }) {
            progress.update { $0.pausedRoots[root.path] = "\(directory) cannot be listed: \(whole.reason)" }
        }
        do {
            let gone = try ingestor.removeVanished(under: directory, present: Set(listing.files), unknown: listing)
            let report = ingest(listing.files)
            logger.info(
                "scanned",
                metadata: [
                    "directory": "\(directory)", "indexed": "\(report.indexed)", "unchanged": "\(report.unchanged)",
                    "failed": "\(report.failed)", "removed": "\(gone)", "unlisted": "\(listing.unlisted.count)",
                ])
        } catch {
            logger.error("scan failed", metadata: ["directory": "\(directory)", "error": "\(error)"])
        }
    }

    func rescanAll() {
        refreshRoots()
        for root in rootSet.roots where !loop.stopRequested { rescan(root) }
        progress.update { $0.pending = 0 }
    }

    // MARK: Commands and events

    /// Runs the queued backups now, leaving other commands for the loop.
    private func runBackups() {
        for backup in loop.takeBackups() { apply(backup) }
    }

    func apply(_ command: ControlCommand) {
        switch command {
        case .rescan(let directory):
            if let directory {
                rescan(directory, acceptingDevice: rootSet.roots.contains(directory))
            } else {
                rescanAll()
            }
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
            reply.fulfil(
                Result {
                    try StateBackup.write(
                        to: destination, state: ingestor.state, indexes: ingestor.indexes, paths: loop.paths)
                })
            logger.notice("backup written", metadata: ["directory": "\(destination)"])
        }
    }

    func handle(_ event: FileEvent) {
        do {
            switch event {
            case .changed(let path): settling[path] = Date().addingTimeInterval(loop.settings.settleSeconds)
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

    // MARK: Each turn

    /// Files quiet for the settle delay are read now.
    func ingestSettled(now: Date) {
        let due = settling.filter { $0.value <= now }.map(\.key).sorted()
        progress.update {
            $0.pending = settling.count
            $0.polledDirectories = watcher.unwatched.count
        }
        guard !due.isEmpty else { return }
        for path in due { settling[path] = nil }
        ingest(due)
    }

    /// Every `retrySeconds` while ingestion is paused (a rescan picks up what the failure left
    /// queued) or a root is (it may be back).
    func retryPaused(now: Date) {
        let current = progress.current
        guard current.problem != nil || !current.pausedRoots.isEmpty,
            now.timeIntervalSince(lastRetry) >= WatchLoop.retrySeconds
        else { return }
        lastRetry = now
        if current.problem != nil {
            rescanAll()
        } else {
            for root in current.pausedRoots.keys.sorted() { if let root = try? CollectionPath(root) { rescan(root) } }
        }
    }

    /// Directories past the inotify watch limit, listed every `poll_seconds`.
    func pollUnwatched(now: Date) {
        guard !watcher.unwatched.isEmpty, now.timeIntervalSince(lastPoll) >= loop.settings.pollSeconds else { return }
        lastPoll = now
        for (directory, listing) in watcher.pollUnwatched() {
            do {
                try ingestor.removeVanished(
                    under: CollectionPath(directory), present: Set(listing.files), unknown: listing)
            } catch {
                logger.error("polling failed", metadata: ["directory": "\(directory)", "error": "\(error)"])
            }
            ingest(listing.files)
        }
    }

    /// The index snapshots, when the index changed and `snapshot_seconds` passed.
    func snapshotIfDue(now: Date) {
        guard ingestor.changes != snapshotChanges, now.timeIntervalSince(lastSnapshot) >= loop.settings.snapshotSeconds
        else { return }
        // Between batches, before the snapshot: the snapshot then holds no tombstones.
        let detached = ingestor.indexes.compactIfWorthIt()
        if !detached.isEmpty { logger.info("compacted the indexes", metadata: ["detached": "\(detached)"]) }
        do {
            try loop.writeSnapshot()
            snapshotChanges = ingestor.changes
            lastSnapshot = now
            logger.debug("snapshot written", metadata: ["items": "\(ingestor.indexes.cnn.index.count)"])
        } catch {
            logger.error("cannot write the index snapshot", metadata: ["error": "\(error)"])
            lastSnapshot = now  // retried after another interval, not on every turn
        }
    }
}
