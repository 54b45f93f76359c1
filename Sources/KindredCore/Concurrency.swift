import Dispatch
import Synchronization

/// Carries pointers or other non-`Sendable` values into `concurrentPerform` workers. The caller
/// promises that workers touch disjoint parts of what it carries, and only for the duration of
/// the call; the compiler cannot check that, hence the name.
public struct UnsafeSendableBox<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// `concurrentPerform` over `items` dealt out one at a time to `workers` threads, so one slow
/// item (a huge image, a deep tree search) delays only the worker that drew it.
public func performDealt(items: Int, workers: Int, _ body: @Sendable (Int) -> Void) {
    guard items > 0 else { return }
    let next = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: max(1, min(workers, items))) { _ in
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            guard i < items else { return }
            body(i)
        }
    }
}
