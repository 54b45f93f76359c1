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

    /// What a `.line`'s handler wants next.
    public enum Next: Equatable, Sendable {
        /// More request lines.
        case lines
        /// The next `count` bytes, whatever they contain, as one `.payload`.
        case payload(Int)
        /// The next `count` bytes dropped unseen, then lines: a payload refused before it arrived,
        /// which the client sends anyway and must not be read as requests.
        case skip(Int)
        /// Stop after this event (of any kind): `feed` returns, and the bytes after it are left
        /// for the caller to feed again later. kindredd pauses at its in-flight limit, which a
        /// single read holding hundreds of pipelined requests would otherwise overrun.
        case pause
    }

    public let maxLineLength: Int
    private var pending: [UInt8] = []
    private var discarding = false
    private var discarded = 0
    private var payloadRemaining = 0
    /// Whether the payload under way is dropped (`Next.skip`) rather than kept.
    private var skipping = false

    public init(maxLineLength: Int = 64 * 1024) {
        self.maxLineLength = maxLineLength
    }

    /// Feeds bytes; returns the complete lines (or overflows) they finish, in order.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Event] {
        var events: [Event] = []
        feed(bytes) {
            events.append($0); return .lines
        }
        return events
    }

    /// Feeds bytes, calling `handle` for each event as it completes; what it returns for a `.line`
    /// says whether the bytes after it are lines, a payload, or a payload to drop, and for any
    /// event whether to pause (`Next`). Returns how many of `bytes` were consumed: all of them
    /// unless the handler paused.
    @discardableResult
    public mutating func feed<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ handle: (Event) -> Next) -> Int {
        var index = bytes.startIndex
        var consumed: Int { bytes.distance(from: bytes.startIndex, to: index) }
        while index != bytes.endIndex {
            if payloadRemaining > 0 {
                // A payload (an image) is copied in slices, not byte by byte: it may be megabytes,
                // and this runs on the event loop.
                let end = bytes.index(index, offsetBy: payloadRemaining, limitedBy: bytes.endIndex) ?? bytes.endIndex
                if !skipping { pending.append(contentsOf: bytes[index..<end]) }
                payloadRemaining -= bytes.distance(from: index, to: end)
                index = end
                if payloadRemaining == 0 {
                    let next = skipping ? .lines : handle(.payload(pending))
                    skipping = false
                    pending.removeAll()
                    if next == .pause { return consumed }
                }
                continue
            }
            let byte = bytes[index]
            index = bytes.index(after: index)
            if byte == 0x0A {
                if discarding {
                    let next = handle(.tooLong(bytes: discarded))
                    discarding = false
                    discarded = 0
                    pending.removeAll(keepingCapacity: true)
                    if next == .pause { return consumed }
                } else {
                    if pending.last == 0x0D { pending.removeLast() }
                    let line = String(decoding: pending, as: UTF8.self)
                    pending.removeAll(keepingCapacity: pending.count < 4096)
                    switch handle(.line(line)) {
                    case .lines: break
                    case .payload(let count) where count > 0:
                        payloadRemaining = count
                        // The handler has admitted the size (kindredd claims it from its budget
                        // first), so the buffer is made once, not doubled and copied as it fills;
                        // pages the client never sends are never touched.
                        pending.reserveCapacity(count)
                    case .skip(let count) where count > 0:
                        payloadRemaining = count
                        skipping = true
                    case .payload, .skip: break
                    case .pause: return consumed
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
        return consumed
    }

    /// Bytes held for a line not yet finished (bounded by the limit).
    public var buffered: Int { pending.count }
}
