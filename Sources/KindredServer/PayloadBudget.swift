import KindredProtocol
import Synchronization

/// The bytes of SIMILAR-IMAGE payloads kindredd holds at once, over every connection. A request
/// claims its image's size when its line is read, before the first byte is buffered; the claim is
/// given back when its answer has been computed (`Claim.release`, before the answer is written,
/// so a client that sends its next image on reading the answer finds the room free), or when its
/// last reference goes: the work refused, or its connection closed. Limits per connection alone
/// did not bound this: 1,024 connections could each hold a 64 MiB image, and 60 clients that sent
/// all but the last byte of one took a release kindredd to 4 GB (RESULTS.md, "Trust").
///
/// The one owner of that rule: the framer buffers a payload only with a claim, and a payload
/// without one is dropped unseen (`LineFramer.Next.skip`).
public final class PayloadBudget: Sendable {
    /// Bytes of images that may be held at once.
    public let limit: Int
    private let held = Atomic<Int>(0)

    public init(limit: Int) {
        precondition(limit > 0, "a payload budget needs room for one byte")
        self.limit = limit
    }

    /// Room for `bytes` more, held until the returned claim's last reference goes: refused as a bad
    /// request when no image that large could ever fit, and as busy while others hold the room.
    public func claim(_ bytes: Int) -> Result<Claim, ProtocolError> {
        guard bytes <= limit else {
            return .failure(
                ProtocolError(
                    .badRequest,
                    "an image of \(bytes) bytes exceeds protocol.image_bytes_in_flight (\(limit) bytes for every query at once)"
                ))
        }
        var current = held.load(ordering: .relaxed)
        while current + bytes <= limit {
            let (exchanged, original) = held.compareExchange(
                expected: current, desired: current + bytes, ordering: .acquiringAndReleasing)
            if exchanged { return .success(Claim(bytes, from: self)) }
            current = original
        }
        return .failure(
            ProtocolError(
                .unavailable,
                "busy: images sent with SIMILAR-IMAGE hold \(current) of the \(limit) bytes protocol.image_bytes_in_flight allows; try again shortly"
            ))
    }

    /// Room taken from a budget, given back once: by `release`, or when the claim goes.
    public final class Claim: Sendable {
        public let bytes: Int
        private let budget: PayloadBudget
        private let released = Atomic<Bool>(false)

        fileprivate init(_ bytes: Int, from budget: PayloadBudget) {
            self.bytes = bytes
            self.budget = budget
        }

        /// Gives the room back now; later calls, and the claim's end, give nothing more.
        public func release() {
            guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
            budget.held.subtract(bytes, ordering: .releasing)
        }

        deinit { release() }
    }
}
