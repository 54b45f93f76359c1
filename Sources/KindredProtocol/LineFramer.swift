/// Splits a byte stream into request lines. A line longer than the limit is reported once as
/// `.tooLong` and its bytes dropped up to its newline, so one bad line costs the client one `ERR`
/// and never unbounded memory; the connection stays usable.
public struct LineFramer: Sendable {
    public enum Event: Equatable, Sendable {
        case line(String)
        case tooLong(bytes: Int)
        /// The raw bytes a `.line` handler asked for (SIMILAR-IMAGE's image).
        case payload([UInt8])
    }

    public let maxLineLength: Int
    private var pending: [UInt8] = []
    private var discarding = false
    private var discarded = 0
    private var payloadRemaining = 0

    public init(maxLineLength: Int = 64 * 1024) {
        self.maxLineLength = maxLineLength
    }

    /// Feeds bytes; returns the complete lines (or overflows) they finish, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        feed(bytes) { events.append($0); return nil }
        return events
    }

    /// Feeds bytes, calling `handle` for each event as it completes. A handler that returns a
    /// byte count for a `.line` makes the next that many bytes arrive as one `.payload`, whatever
    /// they contain, before line framing resumes.
    public mutating func feed(_ bytes: some Sequence<UInt8>, _ handle: (Event) -> Int?) {
        for byte in bytes {
            if payloadRemaining > 0 {
                pending.append(byte)
                payloadRemaining -= 1
                if payloadRemaining == 0 {
                    _ = handle(.payload(pending))
                    pending.removeAll()
                }
                continue
            }
            if byte == 0x0A {
                if discarding {
                    _ = handle(.tooLong(bytes: discarded))
                    discarding = false
                    discarded = 0
                    pending.removeAll(keepingCapacity: true)
                } else {
                    if pending.last == 0x0D { pending.removeLast() }
                    let line = String(decoding: pending, as: UTF8.self)
                    pending.removeAll(keepingCapacity: pending.count < 4096)
                    if let count = handle(.line(line)), count > 0 {
                        payloadRemaining = count
                        pending.reserveCapacity(min(count, 1 << 20))  // a claimed size is not trusted up front
                    }
                }
                continue
            }
            if discarding {
                discarded += 1
            } else if pending.count >= maxLineLength {
                discarding = true
                discarded = pending.count + 1
                pending.removeAll()
            } else {
                pending.append(byte)
            }
        }
    }

    /// Bytes held for a line not yet finished (bounded by the limit).
    public var buffered: Int { pending.count }
}
