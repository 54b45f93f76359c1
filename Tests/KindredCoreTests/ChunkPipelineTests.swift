import Foundation
import KindredCore
import Synchronization
import Testing

@Suite struct ChunkPipelineTests {
    struct Stop: Error {}

    @Test func everyItemArrivesOnceWithBoundedLookahead() throws {
        let prepared = Atomic<Int>(0)
        var seen: [Int] = [], maxAhead = 0
        ChunkPipeline.run(
            Array(0..<1000), chunkSize: 7, ahead: 2, threads: 4,
            prepare: { (item: Int) -> Int in
                prepared.add(1, ordering: .relaxed)
                return item * 2
            }
        ) { (chunk, indices) throws(Never) in
            #expect(chunk == indices.map { $0 * 2 })
            #expect(!chunk.isEmpty && chunk.count <= 7)
            seen += indices
            maxAhead = max(maxAhead, prepared.load(ordering: .relaxed) - seen.count)
            Thread.sleep(forTimeInterval: 0.001)  // a slow consumer: the workers must wait for it
        }
        #expect(seen.sorted() == Array(0..<1000))
        #expect(maxAhead <= 3 * 7, "at most (ahead + 1) chunks admitted and not consumed")
    }

    /// One slow item (a huge PNG) must not hold up the items after it: while it is prepared, the
    /// other worker and the consumer get through the rest.
    @Test func aSlowItemHoldsUpOnlyItsOwnWorker() {
        var order: [Int] = []
        ChunkPipeline.run(
            Array(0..<200), chunkSize: 4, ahead: 1, threads: 2,
            prepare: { (item: Int) -> Int in
                if item == 5 { Thread.sleep(forTimeInterval: 0.5) }
                return item
            }
        ) { (_, indices) throws(Never) in
            order += indices
        }
        #expect(order.sorted() == Array(0..<200))
        let position = order.firstIndex(of: 5) ?? 0
        #expect(position >= 100, "item 5 was consumed after \(position) others; the rest waited for it")
    }

    @Test func aThrowingConsumerStopsTheProducerAndRethrows() {
        let prepared = Atomic<Int>(0)
        #expect(throws: Stop.self) {
            try ChunkPipeline.run(
                Array(0..<10_000), chunkSize: 10, ahead: 1,
                prepare: { (item: Int) -> Int in
                    prepared.add(1, ordering: .relaxed)
                    return item
                }
            ) { (_, indices) throws(Stop) in
                if indices.contains(30) { throw Stop() }
            }
        }
        #expect(prepared.load(ordering: .relaxed) <= 60, "no work goes on after the failure")
    }

    @Test func stopsBetweenChunksWhenAsked() {
        // A slow consumer, so the producer is blocked on a full queue when the stop comes (the
        // case that once crashed: a counting semaphore freed below its initial value).
        for ahead in 1...3 {
            var consumed = 0
            ChunkPipeline.run(Array(0..<100), chunkSize: 10, ahead: ahead, prepare: { $0 }) { (_, _) throws(Never) in
                consumed += 1
                Thread.sleep(forTimeInterval: 0.02)
            } shouldStop: {
                consumed == 3
            }
            #expect(consumed == 3)
        }
    }
}
