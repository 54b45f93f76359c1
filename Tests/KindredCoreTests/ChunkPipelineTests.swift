import Foundation
import KindredCore
import Synchronization
import Testing

@Suite struct ChunkPipelineTests {
    struct Stop: Error {}

    @Test func chunksArriveInOrderWithBoundedLookahead() throws {
        let prepared = Atomic<Int>(0)
        var seen: [Int] = [], maxAhead = 0
        ChunkPipeline.run(
            Array(0..<1000), chunkSize: 7, ahead: 2, threads: 4,
            prepare: { (item: Int) -> Int in
                prepared.add(1, ordering: .relaxed)
                return item * 2
            }
        ) { (chunk, range) throws(Never) in
            #expect(chunk == range.map { $0 * 2 })
            seen += range
            maxAhead = max(maxAhead, prepared.load(ordering: .relaxed) - seen.count)
            Thread.sleep(forTimeInterval: 0.001)  // a slow consumer: the producer must wait for it
        }
        #expect(seen == Array(0..<1000))
        #expect(maxAhead <= 3 * 7, "at most `ahead` chunks queued plus one being prepared")
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
            ) { (_, range) throws(Stop) in
                if range.lowerBound == 30 { throw Stop() }
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
