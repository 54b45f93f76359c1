import Foundation
import KindredCore
import Synchronization
import Testing

@Suite struct ConcurrencyTests {
    /// A refit's parallel loops must not run at the priority queries run at: asked for from a
    /// niced thread (as `RefitScheduler`'s), every iteration runs on a niced thread, each exactly
    /// once, more iterations than cores included. From a thread at the default priority they run
    /// as Dispatch runs them, also exactly once each.
    @Test func parallelWorkKeepsItsCallersPriority() {
        // Iterations that take a while (2 ms asleep), so that more than one thread runs them.
        let iterations = 64
        @Sendable func run() -> (counts: [Int], nicedRuns: Int) {
            let counts = Mutex([Int](repeating: 0, count: iterations)), niced = Atomic<Int>(0)
            performConcurrently(iterations: iterations) { i in
                counts.withLock { $0[i] += 1 }
                if callerIsNiced() { niced.add(1, ordering: .relaxed) }
                usleep(2000)
            }
            return (counts.withLock { $0 }, niced.load(ordering: .relaxed))
        }

        let normal = run()
        #expect(normal.counts == [Int](repeating: 1, count: iterations))
        #expect(normal.nicedRuns == 0)

        // A thread of its own: a thread cannot take back a nice value it has given up.
        let result = Mutex<(counts: [Int], nicedRuns: Int, callerNiced: Bool)?>(nil)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            let (counts, nicedRuns) = run()
            // Many short calls in a row: each must be over, its threads done with its closure,
            // when it returns (a thread still holding it traps in withoutActuallyEscaping).
            let sum = Atomic<Int>(0)
            for _ in 0..<500 { performConcurrently(iterations: 4) { sum.add($0, ordering: .relaxed) } }
            #expect(sum.load(ordering: .relaxed) == 500 * 6)
            result.withLock { $0 = (counts, nicedRuns, callerIsNiced()) }
            finished.signal()
        }.start()
        finished.wait()
        let niced = result.withLock { $0 }
        #expect(niced?.callerNiced == true)
        #expect(niced?.counts == [Int](repeating: 1, count: iterations))
        #expect(niced?.nicedRuns == iterations, "every iteration ran below the default priority")
    }
}
