import FuzzSupport
import KindredProtocol

/// Bytes as a client sends them, in two deliveries split where the first byte says (so framing
/// across reads is exercised): framed into lines with a small limit (overlong lines too), each
/// line parsed as a request, and a SIMILAR-IMAGE's payload taken as the daemon takes it.
/// Errors are answers; a crash, a hang or a leak is a bug.
@_cdecl("fuzz_protocol_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzProtocol(data!, size) }
}

func fuzzProtocol(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let split = min(Int(data[0]), bytes.count)
    var framer = LineFramer(maxLineLength: 256)
    let parser = RequestParser(maxLineLength: 256)
    // An odd byte count's payload is dropped unseen, as kindredd drops one its budget refuses; a
    // line of a length divisible by 3 pauses the framer, as kindredd's in-flight limit does, and
    // the rest is fed again, so every byte is framed once whatever the pauses.
    let handle = { (event: LineFramer.Event) -> LineFramer.Next in
        guard case .line(let line) = event else { return .lines }
        guard let request = try? parser.parse(line) else { return line.utf8.count % 3 == 0 ? .pause : .lines }
        if case .similarImage(let count, _) = request {
            return count % 2 == 0 ? .payload(min(count, 4096)) : .skip(min(count, 4096))
        }
        return line.utf8.count % 3 == 0 ? .pause : .lines
    }
    for part in [bytes[..<split], bytes[split...]] {
        var rest = part
        while !rest.isEmpty {
            let consumed = framer.feed(rest, handle)
            precondition(consumed > 0 && consumed <= rest.count, "fed \(rest.count) bytes, consumed \(consumed)")
            rest = rest.dropFirst(consumed)
        }
    }
    return 0
}
