import Dispatch
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
    let triggers: RefitTriggers
    let logger: Logger
    /// Whether ingestion is busy (a scan running or files waiting): the new-items trigger waits
    /// for it, or a first scan of a large collection would refit at every 20 % along the way.
    let ingestionBusy: @Sendable () -> Bool

    public typealias Completion = @Sendable (Result<Refitter.Report, any Error>) -> Void

    /// The scheduler's life and the refit asked for next.
    private struct State {
        enum Phase { case idle, running, stopping }
        var phase = Phase.idle
        /// A refit asked for and not yet begun, with those waiting for its outcome (empty when
        /// nobody waits); nil when none is asked for. One asked for during a run is the next run.
        var next: [Completion]?
    }

    private let state = Mutex(State())
    private let wake = NSCondition()
    /// Signalled once when the thread `start` began returns (`stop` waits on it).
    private let ended = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    let statusLine: StatusLine

    public init(
        refitter: Refitter, settings: RefitSettings, ingestionBusy: @escaping @Sendable () -> Bool = { false },
        report: @escaping StatusLine = { _ in }, logger: Logger
    ) {
        self.statusLine = report
        self.refitter = refitter
        self.catalog = refitter.catalog
        triggers = RefitTriggers(settings: settings)
        self.ingestionBusy = ingestionBusy
        self.logger = logger
    }

    public var isRunning: Bool { state.withLock { $0.phase == .running } }
    /// The stage of the refit running (read, pca, neighbours, sample_graph, umap_maps, cluster, metrics,
    /// record), nil when none runs.
    public var stage: String? { refitter.currentStage }
    /// How far the running refit is, 0…1; nil between runs.
    public var progress: Double? { refitter.currentProgress }

    /// Asks for a refit; `completion` (if any) hears its outcome.
    public func request(completion: Completion? = nil) {
        state.withLock { state in
            state.next = (state.next ?? []) + (completion.map { [$0] } ?? [])
        }
        wake.lock()
        wake.broadcast()
        wake.unlock()
    }

    public func start() {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        Thread { [self] in
            // This thread only: on Linux the nice value belongs to the thread (setpriority(2), BUGS).
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            run()
            ended.signal()
        }.start()
    }

    /// Stops the thread: a running refit is cancelled at its next check (`Refitter.cancel`) and
    /// recorded as failed, and one asked for and not begun is answered with that failure. Waits up
    /// to `seconds` for the thread to end; false if it has not (the process must not exit under a
    /// refit: see `Refitter.cancel`).
    @discardableResult
    public func stop(within seconds: Double = 30) -> Bool {
        let waiters = state.withLock { state -> [Completion] in
            state.phase = .stopping
            defer { state.next = nil }
            return state.next ?? []
        }
        refitter.cancel()
        wake.lock()
        wake.broadcast()
        wake.unlock()
        for waiter in waiters { waiter(.failure(RefitError.cancelled(stage: "queued"))) }
        guard started.load(ordering: .relaxed) else { return true }
        guard ended.wait(timeout: .now() + seconds) == .success else { return false }
        ended.signal()  // a second stop returns at once
        return true
    }

    private func run() {
        var lastCheck = Date()
        while true {
            wake.lock()
            _ = wake.wait(until: Date().addingTimeInterval(5))
            wake.unlock()
            if state.withLock({ $0.phase == .stopping }) { return }
            // Between refits, items indexed since the last run join its map and clusters.
            do { _ = try refitter.placeNewItems() } catch {
                logger.warning("cannot place new items", metadata: ["error": "\(error)"])
            }
            let (requested, stopping) = state.withLock { ($0.next != nil, $0.phase == .stopping) }
            if stopping { return }
            let now = Date()
            let reason = triggers.reason(
                requested: requested, lastCheck: lastCheck, now: now,
                indexed: { try? catalog.statusCounts()[.indexed] ?? 0 },
                lastRunItems: { (try? catalog.currentRun())??.itemCount ?? 0 }, ingestionBusy: ingestionBusy())
            lastCheck = now
            guard let reason else { continue }
            let waiters = state.withLock { state -> [Completion] in
                defer { state.next = nil }
                if state.phase == .idle { state.phase = .running }
                return state.next ?? []
            }
            logger.info("refit starting", metadata: ["reason": "\(reason)"])
            statusLine("refitting (\(reason))")
            let outcome: Result<Refitter.Report, any Error>
            do { outcome = .success(try refitter.run()) } catch { outcome = .failure(error) }
            state.withLock { if $0.phase == .running { $0.phase = .idle } }
            statusLine("answering")
            for waiter in waiters { waiter(outcome) }
        }
    }
}

/// Why a refit is due, if it is: the decision the scheduler's loop makes every few seconds, kept
/// apart from the loop so each trigger can be tested on its own.
public struct RefitTriggers: Sendable {
    public let settings: RefitSettings
    public var calendar: Calendar

    public init(settings: RefitSettings, calendar: Calendar = .current) {
        self.settings = settings
        self.calendar = calendar
    }

    /// The reason to refit now, or nil. `indexed` and `lastRunItems` are asked only when the
    /// new-items trigger is on and ingestion is idle.
    public func reason(
        requested: Bool, lastCheck: Date, now: Date, indexed: () -> Int?, lastRunItems: () -> Int, ingestionBusy: Bool
    ) -> String? {
        if requested { return "requested" }
        if let scheduled = scheduledReason(since: lastCheck, now: now) { return scheduled }
        guard settings.afterNewFraction > 0, !ingestionBusy, let indexed = indexed(), indexed >= settings.minimumItems
        else { return nil }
        let last = lastRunItems()
        if last == 0 { return "no run yet, \(indexed) items" }
        let fraction = Double(indexed - last) / Double(last)
        return fraction >= settings.afterNewFraction ? String(format: "%.0f%% new items", fraction * 100) : nil
    }

    /// The daily time, if it passed between the last check and now.
    func scheduledReason(since last: Date, now: Date) -> String? {
        guard let minutes = settings.scheduleMinutes else { return nil }
        let today = calendar.startOfDay(for: now).addingTimeInterval(Double(minutes) * 60)
        let due = today <= now ? today : today.addingTimeInterval(-86_400)
        return due > last && due <= now ? "schedule \(settings.scheduleText)" : nil
    }
}
