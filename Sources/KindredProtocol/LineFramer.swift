/// Splits a byte stream into request lines. A line longer than the limit is reported once as
/// `.tooLong` and its bytes dropped up to its newline, so one bad line costs the client one `ERR`
/// and never unbounded memory; the connection stays usable.
public struct LineFramer: Sendable {
    public enum Event: Equatable, Sendable {
        case line(String)
        case tooLong(bytes: Int)
    }

    public let maxLineLength: Int
    private var pending: [UInt8] = []
    private var discarding = false
    private var discarded = 0

    public init(maxLineLength: Int = 64 * 1024) {
        self.maxLineLength = maxLineLength
    }

    /// Feeds bytes; returns the complete lines (or overflows) they finish, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if byte == 0x0A {
                if discarding {
                    events.append(.tooLong(bytes: discarded))
                    discarding = false
                    discarded = 0
                } else {
                    if pending.last == 0x0D { pending.removeLast() }
                    events.append(.line(String(decoding: pending, as: UTF8.self)))
                }
                pending.removeAll(keepingCapacity: pending.count < 4096)
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
        return events
    }

    /// Bytes held for a line not yet finished (bounded by the limit).
    public var buffered: Int { pending.count }
}
