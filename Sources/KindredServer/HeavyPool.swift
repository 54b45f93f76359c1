import Foundation
import KindredCore
import KindredEngine
import KindredProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The heavy requests' own threads, with a bounded number of places: past it a request is refused
/// at once (`ERR unavailable`), not queued without limit. A place is held from acceptance until its
/// answer has been written to the client's socket, not only computed: heavy answers can be tens of
/// megabytes (THUMBS limit=10000 is 41 MB), and when a place was given back on computing, clients
/// that asked one at a time and never read grew kindredd by an answer each (48 of them: 1.85 GB;
/// RESULTS.md, "Trust"). Now at most `threads + queue` heavy answers exist at once, however many
/// connections ask.
final class HeavyPool: Sendable {
    private let pool: NIOThreadPool
    private let taken = Atomic<Int>(0)
    let threads: Int
    let queue: Int

    init(threads: Int, queue: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        self.threads = threads
        self.queue = queue
    }

    /// A place among the heavy requests, given back when its last reference goes.
    final class Place: Sendable {
        private let pool: HeavyPool

        fileprivate init(_ pool: HeavyPool) { self.pool = pool }

        deinit { pool.taken.wrappingSubtract(1, ordering: .relaxed) }
    }

    /// Runs `work` on the pool, or answers `busy()` at once when every place is taken. The caller
    /// keeps the returned place until the answer is written (nil when refused).
    func run<T: Sendable>(
        on eventLoop: EventLoop, _ work: @escaping @Sendable () -> T, busy: @Sendable () -> T
    ) -> (EventLoopFuture<T>, Place?) {
        let now = taken.wrappingAdd(1, ordering: .relaxed).newValue
        guard now <= threads + queue else {
            taken.wrappingSubtract(1, ordering: .relaxed)
            return (eventLoop.makeSucceededFuture(busy()), nil)
        }
        return (pool.runIfActive(eventLoop: eventLoop, work), Place(self))
    }

    func shutdown() { try? pool.syncShutdownGracefully() }
}
