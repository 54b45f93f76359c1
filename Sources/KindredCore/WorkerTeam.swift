import Foundation
import Synchronization

/// A fixed team of threads that runs one job cut into parts, many times in quick succession: one
/// image's CNN layers, split over the cores, about 25 jobs of 0.1–1 ms each. Dispatch wakes its
/// workers for each job; here they spin briefly after each one, so the next starts without a
/// system call (2-thread latency 8.5–11 → 6.9–7.5 ms, Benchmarks/RESULTS.md), and sleep on a
/// condition variable once no job has come for a while (between images), so an idle team
/// costs nothing.
///
/// `run` is called by one thread at a time (the network's owner); the caller runs part 0.
public final class WorkerTeam: Sendable {
    /// Parts a job is cut into: the caller plus one per worker thread.
    public let parts: Int
    private let shared: Shared
    private let finished = DispatchSemaphore(value: 0)

    public init(parts: Int) {
        self.parts = max(1, parts)
        shared = Shared()
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
        shared.run(workers: parts - 1, body)
    }

    /// What the workers share with the caller; the workers hold it, not the team, so the team's
    /// owner can release it and its deinit can stop them.
    private final class Shared: @unchecked Sendable {  // `job` is published through `generation`
        private let generation = Atomic<UInt64>(0)
        private let remaining = Atomic<Int>(0)
        private let stopping = Atomic<Bool>(false)
        /// The current job: written before `generation` is raised (releasing), read by the
        /// workers after they see it raised (acquiring), cleared once every part is done.
        private var job: ((Int) -> Void)?
        private let condition = NSCondition()

        /// Spins before sleeping: longer than the gap between two layers, far shorter than an image.
        private static let spinIterations = 20_000

        func run(workers: Int, _ body: (Int) -> Void) {
            withoutActuallyEscaping(body) { body in
                job = body
                remaining.store(workers, ordering: .relaxed)
                raise()
                body(0)
                while remaining.load(ordering: .acquiring) > 0 {}
                job = nil
            }
        }

        func stop() {
            stopping.store(true, ordering: .relaxed)
            raise()
        }

        private func raise() {
            generation.add(1, ordering: .releasing)
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }

        func work(part: Int) {
            var seen: UInt64 = 0
            while true {
                var spins = 0
                while generation.load(ordering: .acquiring) == seen && spins < Self.spinIterations { spins += 1 }
                if generation.load(ordering: .acquiring) == seen {
                    condition.lock()
                    while generation.load(ordering: .acquiring) == seen { condition.wait() }
                    condition.unlock()
                }
                seen = generation.load(ordering: .acquiring)
                if stopping.load(ordering: .relaxed) { return }
                job?(part)
                remaining.subtract(1, ordering: .releasing)
            }
        }
    }
}
