import Foundation
import KindredCore
import Synchronization
import Testing

@Suite struct WorkerTeamTests {
    /// Thousands of short jobs in a row, as a CNN's layers come: every part of every job runs
    /// exactly once, and `run` returns only when all of a job's parts are done.
    @Test func everyPartOfEveryJobRunsOnceBeforeRunReturns() {
        for parts in [1, 2, 3, 5] {
            let team = WorkerTeam(parts: parts)
            let counts = Mutex([Int](repeating: 0, count: parts))
            for job in 1...3000 {
                team.run { part in counts.withLock { $0[part] += 1 } }
                #expect(counts.withLock { $0 } == [Int](repeating: job, count: parts), "\(parts) parts, job \(job)")
                if counts.withLock({ $0 }) != [Int](repeating: job, count: parts) { break }
            }
        }
    }

    /// More parts than cores (9 threads on this 2-core machine): workers are often not running
    /// when the caller finishes its part, so the caller runs theirs. Every part still runs once,
    /// and the parts the caller ran are counted (how many varies with the scheduler).
    @Test func partsNoWorkerStartedAreRunByTheCaller() {
        let parts = 9
        let team = WorkerTeam(parts: parts)
        let caller = Thread.current
        let counts = Mutex([Int](repeating: 0, count: parts)), byCaller = Mutex(0)
        for job in 1...2000 {
            team.run { part in
                counts.withLock { $0[part] += 1 }
                if part > 0 && Thread.current == caller { byCaller.withLock { $0 += 1 } }
            }
            let seen = counts.withLock { $0 }
            #expect(seen == [Int](repeating: job, count: parts), "job \(job)")
            if seen != [Int](repeating: job, count: parts) { break }
        }
        print("WorkerTeam: the caller ran \(byCaller.withLock { $0 }) of 16,000 worker parts")
    }

    /// A team is never cut into more parts than it can track.
    @Test func partsAreClamped() {
        #expect(WorkerTeam(parts: 0).parts == 1)
        #expect(WorkerTeam(parts: 1000).parts == WorkerTeam.maxParts)
    }

    /// A team released just as its workers wake for a job stops every one of them. A worker that
    /// checked for the stop just before it came, then read the stop's generation as if it were
    /// a new job's, slept through the stop, and the release waited for it forever (a CI run hung
    /// on it). The release happens on a thread of its own, so a hang fails the test instead of
    /// stopping the suite. The window is a few instructions wide, and with the old order this
    /// test passed 3 runs of 3: it guards the release path under preemption, and does not
    /// reproduce that hang (the fix rests on the hung run's backtrace; see its commit).
    @Test func releasingATeamAsItsWorkersWakeStopsThemAll() {
        // Several teams at once, with more threads than cores, so that workers are preempted at
        // every point of their loop, the one between the two reads included.
        let teams = 4
        let released = DispatchSemaphore(value: 0)
        for _ in 0..<teams {
            Thread.detachNewThread {
                for _ in 0..<1500 {
                    var team: WorkerTeam? = WorkerTeam(parts: 4)
                    team?.run { _ in }
                    team = nil
                }
                released.signal()
            }
        }
        for _ in 0..<teams {
            #expect(released.wait(timeout: .now() + 120) == .success, "a released team waited forever for a worker")
        }
    }

    /// A team left idle long enough for its workers to sleep still runs the next job, and one
    /// released while its workers sleep stops them (the test would hang otherwise).
    @Test func sleepingWorkersWakeForTheNextJobAndStop() async throws {
        let team = WorkerTeam(parts: 3)
        let done = Atomic<Int>(0)
        team.run { _ in done.add(1, ordering: .relaxed) }
        try await Task.sleep(for: .milliseconds(50))
        team.run { _ in done.add(1, ordering: .relaxed) }
        #expect(done.load(ordering: .relaxed) == 6)
    }
}
