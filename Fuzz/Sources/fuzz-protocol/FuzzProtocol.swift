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
    // An odd byte count's payload is dropped unseen, as kindredd drops one its budget refuses.
    let handle = { (event: LineFramer.Event) -> LineFramer.Next in
        guard case .line(let line) = event, let request = try? parser.parse(line) else { return .lines }
        if case .similarImage(let count, _) = request {
            return count % 2 == 0 ? .payload(min(count, 4096)) : .skip(min(count, 4096))
        }
        return .lines
    }
    framer.feed(bytes[..<split], handle)
    framer.feed(bytes[split...], handle)
    return 0
}
