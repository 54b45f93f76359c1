import Dispatch
import Foundation
import Synchronization

/// Two stages with a bounded queue between them: a background thread prepares chunks of items
/// (each chunk's items in parallel, e.g. read and decode images) while the caller consumes the
/// chunks before them, in order (e.g. the CNN and the commit). At most `ahead` prepared chunks
/// wait in the queue, so memory stays bounded whatever the consumer's pace (backpressure), and
/// neither stage idles while the other works, which matters most when one item of a chunk is
/// slow to prepare (a huge PNG) and the rest would otherwise wait for it.
public enum ChunkPipeline {
    /// Runs `prepare` on every item and hands the results to `consume` chunk by chunk, in order.
    /// `consume` gets the chunk's index range in `items`. Stops early, without preparing further
    /// chunks, once `shouldStop` says so or `consume` throws (which is rethrown). `willPrepare`
    /// hears each chunk's range on the producer thread just before its items are prepared.
    public static func run<Item: Sendable, Prepared: Sendable, Failure: Error>(
        _ items: [Item], chunkSize: Int, ahead: Int = 1, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        willPrepare: @escaping @Sendable (Range<Int>) -> Void = { _ in },
        prepare: @escaping @Sendable (Item) -> Prepared,
        consume: ([Prepared], Range<Int>) throws(Failure) -> Void,
        shouldStop: () -> Bool = { false }
    ) throws(Failure) {
        precondition(chunkSize > 0 && ahead > 0 && threads > 0)
        let ranges = stride(from: 0, to: items.count, by: chunkSize).map { $0..<min(items.count, $0 + chunkSize) }
        guard !ranges.isEmpty else { return }
        let shared = Handoff<Prepared>()
        let producerDone = DispatchSemaphore(value: 0)
        Thread {
            defer { producerDone.signal() }
            for range in ranges {
                guard shared.waitForRoom(limit: ahead) else { return }
                willPrepare(range)
                let results = Mutex<[Prepared?]>(Array(repeating: nil, count: range.count))
                performDealt(items: range.count, workers: threads) { i in
                    let prepared = prepare(items[range.lowerBound + i])
                    results.withLock { $0[i] = prepared }
                }
                shared.put(results.withLock { $0.map { $0! } })
            }
        }.start()
        defer {
            // Release and wait for the producer, so no thread outlives the call.
            shared.cancel()
            producerDone.wait()
        }
        for range in ranges {
            guard !shouldStop() else { return }
            try consume(shared.take(), range)
        }
    }
}

/// The bounded queue between the two stages: a condition variable rather than counting
/// semaphores, because a stop leaves the counts anywhere and libdispatch refuses to free a
/// semaphore below its initial value.
private final class Handoff<Prepared>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [[Prepared]] = []  // guarded by `condition`
    private var cancelled = false

    /// Waits until fewer than `limit` chunks are queued; false once cancelled.
    func waitForRoom(limit: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= limit && !cancelled { condition.wait() }
        return !cancelled
    }

    func put(_ chunk: [Prepared]) {
        condition.lock()
        queue.append(chunk)
        condition.broadcast()
        condition.unlock()
    }

    func take() -> [Prepared] {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty { condition.wait() }
        let chunk = queue.removeFirst()
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
