import Foundation
import Synchronization

/// A fixed team of threads that runs one job cut into parts, many times in quick succession: one
/// image's CNN layers, split over the cores, about 30 jobs of 0.1–1 ms each. Dispatch wakes its
/// workers for each job; here they spin after each one (up to `spinWindow`), so the next starts
/// without a system call (2-thread latency 8.5–11 → 6.9–7.5 ms, Benchmarks/RESULTS.md), and
/// sleep on a condition variable once no job has come for that long (between images), so an
/// idle team costs nothing.
///
/// A part no worker has started by the time the caller finishes its own is run by the caller:
/// when another process holds a core, the job does not wait for a worker the scheduler has not
/// run yet. Which thread runs a part is not fixed; each part runs exactly once.
///
/// `run` is called by one thread at a time (the network's owner); the caller runs part 0.
public final class WorkerTeam: Sendable {
    /// Most parts a job is cut into (one bit each in the job's word).
    public static let maxParts = 32
    /// Parts a job is cut into: the caller plus one per worker thread.
    public let parts: Int
    private let shared: Shared
    private let finished = DispatchSemaphore(value: 0)

    /// `parts` is clamped to 1...`maxParts`.
    public init(parts: Int) {
        self.parts = min(max(1, parts), Self.maxParts)
        shared = Shared(parts: self.parts)
        for part in 1..<self.parts {
            let (shared, finished) = (shared, finished)
            let thread = Thread {
                shared.work(part: part)
                finished.signal()
            }
            thread.name = "kindred-team-\(part)"
            thread.start()
        }
    }

    deinit {
        shared.stop()
        for _ in 1..<parts { finished.wait() }
    }

    /// Runs `body(part)` for every part in 0..<parts, part 0 on the calling thread, and returns
    /// once all are done.
    public func run(_ body: (Int) -> Void) {
        guard parts > 1 else { return body(0) }
        shared.run(body)
    }

    /// What the workers share with the caller; the workers hold it, not the team, so the team's
    /// owner can release it and its deinit can stop them.
    private final class Shared: @unchecked Sendable {  // `job` is published through `state`
        /// The job's generation (high 32 bits) and the parts taken (bit p: part p has been
        /// started, by a worker or the caller). A part is taken by one compare-exchange that
        /// also checks the generation, so a worker that wakes late cannot take a part of a job
        /// that has moved on.
        private let state = Atomic<UInt64>(0)
        /// Parts of the current job that workers took and finished.
        private let done = Atomic<Int>(0)
        private let stopping = Atomic<Bool>(false)
        /// The current job: written before `state` names its generation (releasing), read by a
        /// worker after it takes a part (acquiring), cleared once every part is done.
        private var job: ((Int) -> Void)?
        private let condition = NSCondition()
        private let parts: Int
        private let allParts: UInt64

        /// How long a worker spins for the next job before it sleeps: longer than any wait between
        /// two layers (a slow part, the caller's set-up), about a tenth of an image. A count of
        /// 20,000 iterations (~20 µs) proved too short: a worker that finished its part early
        /// fell asleep while the caller finished its own, and the wake-up came late
        /// (Benchmarks/RESULTS.md, "Huge pages, a longer spin and shared rows").
        private static let spinWindow: Duration = .milliseconds(1)
        /// Iterations between clock reads while spinning.
        private static let spinsPerClockRead = 256

        init(parts: Int) {
            self.parts = parts
            allParts = (1 << UInt64(parts)) - 1  // parts ≤ maxParts = 32
        }

        private static func generation(_ state: UInt64) -> UInt64 { state >> 32 }

        func run(_ body: (Int) -> Void) {
            withoutActuallyEscaping(body) { body in
                job = body
                done.store(0, ordering: .relaxed)
                let next = (Self.generation(state.load(ordering: .relaxed)) + 1) & 0xffff_ffff
                state.store(next << 32 | 1, ordering: .releasing)  // part 0 is the caller's
                wake()
                body(0)
                // Take every part no worker has started, and run those here.
                let started = state.bitwiseOr(allParts, ordering: .acquiringAndReleasing).oldValue & allParts
                for part in 1..<parts where started & (1 << UInt64(part)) == 0 { body(part) }
                let byWorkers = (started & ~1).nonzeroBitCount
                while done.load(ordering: .acquiring) < byWorkers {}
                job = nil
            }
        }

        func stop() {
            stopping.store(true, ordering: .relaxed)
            let current = state.load(ordering: .relaxed)
            state.store(((Self.generation(current) + 1) & 0xffff_ffff) << 32 | allParts, ordering: .releasing)
            wake()
        }

        private func wake() {
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }

        func work(part: Int) {
            let bit: UInt64 = 1 << UInt64(part)
            var seen: UInt64 = 0
            while true {
                spin(while: seen)
                if Self.generation(state.load(ordering: .acquiring)) == seen {
                    condition.lock()
                    while Self.generation(state.load(ordering: .acquiring)) == seen { condition.wait() }
                    condition.unlock()
                }
                // The state first, then the stop: `stop` sets `stopping` before it publishes its
                // generation, so a worker that reads that generation here also sees the stop.
                // Checked the other way round, a stop landing between the two reads was taken
                // for a new job: the worker then waited for the generation after it, which never
                // comes, and the team's release waited for the worker (a CI run hung on it).
                var current = state.load(ordering: .acquiring)
                if stopping.load(ordering: .relaxed) { return }
                seen = Self.generation(current)
                while current & bit == 0 {  // take this part unless the caller has
                    let (taken, now) = state.compareExchange(
                        expected: current, desired: current | bit, ordering: .acquiringAndReleasing)
                    if taken {
                        job?(part)
                        done.add(1, ordering: .releasing)
                        break
                    }
                    if Self.generation(now) != seen { break }  // a newer job: see it next time round
                    current = now
                }
            }
        }

        /// Returns once the generation moves past `seen` or the spin window has passed.
        private func spin(while seen: UInt64) {
            let deadline = ContinuousClock.now + Self.spinWindow
            while true {
                for _ in 0..<Self.spinsPerClockRead {
                    if Self.generation(state.load(ordering: .acquiring)) != seen { return }
                }
                if ContinuousClock.now >= deadline { return }
            }
        }
    }
}
