import Foundation
import KindredCore
import KindredEngine
import KindredProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The heavy requests' own threads, with a bounded queue: past it a request is refused at once
/// (`ERR unavailable`), not queued without limit.
final class HeavyPool: Sendable {
    private let pool: NIOThreadPool
    private let waiting = Atomic<Int>(0)
    let threads: Int
    let queue: Int

    init(threads: Int, queue: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        self.threads = threads
        self.queue = queue
    }

    /// Runs `work` on the pool, or fails at once when `threads + queue` are already taken.
    func run<T: Sendable>(
        on eventLoop: EventLoop, _ work: @escaping @Sendable () -> T, busy: @Sendable () -> T
    ) -> EventLoopFuture<T> {
        let taken = waiting.wrappingAdd(1, ordering: .relaxed).newValue
        guard taken <= threads + queue else {
            waiting.wrappingSubtract(1, ordering: .relaxed)
            return eventLoop.makeSucceededFuture(busy())
        }
        return pool.runIfActive(eventLoop: eventLoop) { [self] in
            defer { waiting.wrappingSubtract(1, ordering: .relaxed) }
            return work()
        }
    }

    func shutdown() { try? pool.syncShutdownGracefully() }
}
