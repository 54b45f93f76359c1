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
