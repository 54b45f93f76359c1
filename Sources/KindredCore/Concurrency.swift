import Dispatch
import Foundation
import Synchronization

/// Carries pointers or other non-`Sendable` values into `concurrentPerform` workers. The caller
/// promises that workers touch disjoint parts of what it carries, and only for the duration of
/// the call; the compiler cannot check that, hence the name.
public struct UnsafeSendableBox<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// `DispatchQueue.concurrentPerform`, except that work asked for by a thread running below
/// normal priority stays below it: the one owner of "parallel work keeps its caller's priority".
///
/// kindredd's refit runs on a thread with a nice value of 10 (`RefitScheduler`) so that queries
/// come first. Dispatch's workers are threads shared by the whole process at its normal priority,
/// so a niced caller's iterations would run there and compete with queries as equals (on two
/// cores, one of them). When the caller is niced, its iterations run instead on threads it starts
/// for the call, at most one a core, which take its nice value (on Linux the nice value belongs to
/// the thread, and a new thread starts with its creator's). A call costs a thread start a core,
/// some tens of microseconds, against parallel loops that run for milliseconds or more.
public func performConcurrently(iterations: Int, _ body: @Sendable (Int) -> Void) {
    guard iterations > 1, callerIsNiced() else {
        DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
        return
    }
    withoutActuallyEscaping(body) { body in
        // As Dispatch does, no more threads than cores; the iterations are dealt out among them.
        let deal = Deal(iterations: iterations, body: body)
        var threads: [pthread_t] = []
        for _ in 1..<min(iterations, ProcessInfo.processInfo.activeProcessorCount) {
            // The thread owns one reference to `deal` and gives it up before it ends, so once every
            // thread is joined nothing holds `body` (withoutActuallyEscaping checks that).
            let context = Unmanaged.passRetained(deal).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(
                &thread, nil,
                { context in
                    Unmanaged<Deal>.fromOpaque(context!).takeRetainedValue().drain()
                    return nil
                }, context)
            guard started == 0 else {
                // Fewer threads than asked for (a thread limit): the caller deals itself the rest.
                Unmanaged<Deal>.fromOpaque(context).release()
                break
            }
            threads.append(thread)
        }
        deal.drain()
        for thread in threads { pthread_join(thread, nil) }
    }
}

/// The iterations of one `performConcurrently` call, taken one at a time by whichever thread is free.
private final class Deal: Sendable {
    let iterations: Int
    let next = Atomic<Int>(0)
    let body: @Sendable (Int) -> Void

    init(iterations: Int, body: @escaping @Sendable (Int) -> Void) {
        self.iterations = iterations
        self.body = body
    }

    func drain() {
        while case let i = next.add(1, ordering: .relaxed).oldValue, i < iterations { body(i) }
    }
}

/// Whether the calling thread runs below the default priority (a nice value above 0).
public func callerIsNiced() -> Bool {
    errno = 0
    let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
    return errno == 0 && nice > 0
}

/// `performConcurrently` over `items` dealt out one at a time to `workers` threads, so one slow
/// item (a huge image, a deep tree search) delays only the worker that drew it.
public func performDealt(items: Int, workers: Int, _ body: @Sendable (Int) -> Void) {
    guard items > 0 else { return }
    let next = Atomic<Int>(0)
    performConcurrently(iterations: max(1, min(workers, items))) { _ in
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            guard i < items else { return }
            body(i)
        }
    }
}
