import Foundation
import KindredStore
import Logging
import Synchronization

/// Decides when to refit and runs refits on a thread of its own at low CPU priority (nice 10 for
/// that thread alone), so queries and ingestion keep their share. Triggers: the daily
/// `refit.schedule`, `refit.after_new_fraction` of the collection being new since the last run,
/// and `REFIT` requests (which may wait for the result). One refit at a time; requests that come
/// while one runs are answered by the next run. Every few seconds it also places items indexed
/// since the last run into that run's maps and clusters.
public final class RefitScheduler: Sendable {
    let refitter: Refitter
    let catalog: Catalog
    let settings: RefitSettings
    let logger: Logger
    /// Whether ingestion is busy (a scan running or files waiting): the new-items trigger waits
    /// for it, or a first scan of a large collection would refit at every 20 % along the way.
    let ingestionBusy: @Sendable () -> Bool

    public typealias Completion = @Sendable (Result<Refitter.Report, any Error>) -> Void

    private struct State {
        var requested = false
        var running = false
        var waiters: [Completion] = []
        var stopping = false
    }

    private let state = Mutex(State())
    private let wake = NSCondition()

    public init(refitter: Refitter, settings: RefitSettings, ingestionBusy: @escaping @Sendable () -> Bool = { false }, logger: Logger) {
        self.refitter = refitter
        self.catalog = refitter.catalog
        self.settings = settings
        self.ingestionBusy = ingestionBusy
        self.logger = logger
    }

    public var isRunning: Bool { state.withLock { $0.running } }

    /// Asks for a refit; `completion` (if any) hears its outcome.
    public func request(completion: Completion? = nil) {
        state.withLock { state in
            state.requested = true
            if let completion { state.waiters.append(completion) }
        }
        wake.lock()
        wake.broadcast()
        wake.unlock()
    }

    public func start() {
        Thread { [self] in
            // This thread only: on Linux the nice value belongs to the thread (setpriority(2), BUGS).
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            run()
        }.start()
    }

    public func stop() {
        state.withLock { $0.stopping = true }
        wake.lock()
        wake.broadcast()
        wake.unlock()
    }

    private func run() {
        var lastCheck = Date()
        while true {
            wake.lock()
            _ = wake.wait(until: Date().addingTimeInterval(5))
            wake.unlock()
            // Between refits, items indexed since the last run join its map and clusters.
            do { _ = try refitter.placeNewItems() } catch { logger.warning("cannot place new items", metadata: ["error": "\(error)"]) }
            let (requested, stopping) = state.withLock { ($0.requested, $0.stopping) }
            if stopping { return }
            let now = Date()
            let reason = requested ? "requested" : scheduledReason(since: lastCheck, now: now) ?? newItemsReason()
            lastCheck = now
            guard let reason else { continue }
            let waiters = state.withLock { state -> [Completion] in
                state.requested = false
                state.running = true
                defer { state.waiters = [] }
                return state.waiters
            }
            logger.info("refit starting", metadata: ["reason": "\(reason)"])
            Systemd.notify("STATUS=refitting (\(reason))")
            let outcome: Result<Refitter.Report, any Error>
            do { outcome = .success(try refitter.run()) } catch { outcome = .failure(error) }
            state.withLock { $0.running = false }
            Systemd.notify("STATUS=answering")
            for waiter in waiters { waiter(outcome) }
        }
    }

    /// The daily time, if it passed between the last check and now.
    private func scheduledReason(since last: Date, now: Date) -> String? {
        guard let minutes = settings.scheduleMinutes else { return nil }
        let calendar = Calendar.current
        let today = calendar.startOfDay(for: now).addingTimeInterval(Double(minutes) * 60)
        let due = today <= now ? today : today.addingTimeInterval(-86_400)
        return due > last && due <= now ? "schedule \(settings.schedule)" : nil
    }

    /// Enough new items since the last run (or none yet and the collection big enough).
    private func newItemsReason() -> String? {
        guard settings.afterNewFraction > 0, !ingestionBusy() else { return nil }
        guard let indexed = try? catalog.statusCounts()[.indexed] else { return nil }
        let last = (try? catalog.currentRun())??.itemCount ?? 0
        let needed = max(2 * settings.minClusterSize, settings.neighbors + 2)
        guard indexed >= needed else { return nil }
        if last == 0 { return "no run yet, \(indexed) items" }
        let fraction = Double(indexed - last) / Double(last)
        return fraction >= settings.afterNewFraction ? String(format: "%.0f%% new items", fraction * 100) : nil
    }
}
