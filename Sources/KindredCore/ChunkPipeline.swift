import Dispatch
import Foundation
import Synchronization

/// Two stages with a bounded window between them: `threads` workers prepare items (read and
/// decode images), each taking the next item when done with one, while the caller consumes the
/// prepared items in chunks (the CNN and the commit). A chunk holds items in the order they were
/// finished, not the order given: one slow item (a 600 MP PNG) holds up only the worker decoding
/// it, while the other workers and the consumer carry on with the items after it. (Preparing
/// whole chunks in order left a core idle for as long as the slowest item of a chunk took.) At
/// most (ahead + 1) × chunkSize items are admitted and not yet consumed, so memory stays bounded
/// whatever the consumer's pace (backpressure).
public enum ChunkPipeline {
    /// Runs `prepare` on every item and hands the results to `consume` in chunks of up to
    /// `chunkSize`, with each result's index in `items`. Every item is consumed exactly once,
    /// unless the run stops early: once `shouldStop` says so or `consume` throws (which is
    /// rethrown), no further item is started. `willPrepare` hears each range of items on a worker
    /// thread as it is admitted, before any of them is prepared. `clock` hears how long the
    /// consumer waited for prepared items (`PipelineStage.waiting`).
    public static func run<Item: Sendable, Prepared: Sendable, Failure: Error>(
        _ items: [Item], chunkSize: Int, ahead: Int = 1, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        clock: StageClock? = nil,
        willPrepare: @escaping @Sendable (Range<Int>) -> Void = { _ in },
        prepare: @escaping @Sendable (Item) -> Prepared,
        consume: ([Prepared], [Int]) throws(Failure) -> Void,
        shouldStop: () -> Bool = { false }
    ) throws(Failure) {
        precondition(chunkSize > 0 && ahead > 0 && threads > 0)
        guard !items.isEmpty else { return }
        let window = Window<Prepared>(count: items.count, chunkSize: chunkSize, limit: (ahead + 1) * chunkSize)
        // Threads of their own, not Dispatch's pool: concurrentPerform may run its iterations one
        // after another on a busy pool, and then one slow item would stall every other.
        let workers = min(threads, items.count)
        let workersDone = DispatchSemaphore(value: 0)
        for _ in 0..<workers {
            Thread {
                defer { workersDone.signal() }
                while let next = window.nextWork() {
                    switch next {
                    case .admit(let range):
                        willPrepare(range)
                        window.admitted(range)
                    case .prepare(let i):
                        window.finished(i, prepare(items[i]))
                    }
                }
            }.start()
        }
        defer {
            // Release and wait for the workers, so no thread outlives the call.
            window.cancel()
            for _ in 0..<workers { workersDone.wait() }
        }
        var consumed = 0
        while consumed < items.count {
            guard !shouldStop() else { return }
            let begun = ContinuousClock.now
            let chunk = window.take()
            clock?.add(.waiting, ContinuousClock.now - begun)
            consumed += chunk.count
            try consume(chunk.map(\.prepared), chunk.map(\.index))
        }
    }
}

/// The state the workers and the consumer share, under one condition variable (not counting
/// semaphores: a stop leaves the counts anywhere and libdispatch refuses to free a semaphore
/// below its initial value).
private final class Window<Prepared>: @unchecked Sendable {  // every field guarded by `condition`
    enum Work { case admit(Range<Int>), prepare(Int) }

    private let condition = NSCondition()
    private let count: Int, chunkSize: Int, limit: Int
    private var admittedEnd = 0, started = 0, consumed = 0
    private var admitting = false, cancelled = false
    private var done: [(index: Int, prepared: Prepared)] = []

    init(count: Int, chunkSize: Int, limit: Int) {
        self.count = count
        self.chunkSize = chunkSize
        self.limit = limit
    }

    /// The next range to admit, if the window has room for it.
    private var admissible: Range<Int>? {
        guard !admitting, admittedEnd < count else { return nil }
        let range = admittedEnd..<min(count, admittedEnd + chunkSize)
        return admittedEnd - consumed + range.count <= limit ? range : nil
    }

    /// A worker's next job, waiting while there is none; nil once there never will be one.
    func nextWork() -> Work? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled {
            if started < admittedEnd {
                started += 1
                return .prepare(started - 1)
            }
            if admittedEnd == count && !admitting { return nil }
            if let range = admissible {
                admitting = true
                return .admit(range)
            }
            condition.wait()
        }
        return nil
    }

    func admitted(_ range: Range<Int>) {
        condition.lock()
        admittedEnd = range.upperBound
        admitting = false
        condition.broadcast()
        condition.unlock()
    }

    func finished(_ index: Int, _ prepared: Prepared) {
        condition.lock()
        done.append((index, prepared))
        condition.broadcast()
        condition.unlock()
    }

    /// The next chunk: a full one as soon as there is one, else what is done once waiting could
    /// bring nothing but the items still being prepared.
    func take() -> [(index: Int, prepared: Prepared)] {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let nothingPending = started == admittedEnd && admissible == nil && !admitting
            if done.count >= chunkSize || (!done.isEmpty && nothingPending) { break }
            condition.wait()
        }
        let chunk = Array(done.prefix(chunkSize))
        done.removeFirst(chunk.count)
        consumed += chunk.count
        condition.broadcast()
        return chunk
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
