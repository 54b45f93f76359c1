import Foundation
import FuzzSupport
import KindredFeatures

/// A Kindred weight file (what kindredd loads at start). The trailing checksum is recomputed
/// over the input first, so mutations reach the parser behind it instead of all failing the
/// checksum; the unmodified check is covered by the unit tests.
@_cdecl("fuzz_weights_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzWeights(data!, size) }
}

func fuzzWeights(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.count >= 16 { bytes = withChecksum(bytes, of: 0..<(bytes.count - 8), at: bytes.count - 8) }
    _ = try? ModelWeights.read(from: scratch.write(bytes))
    return 0
}
