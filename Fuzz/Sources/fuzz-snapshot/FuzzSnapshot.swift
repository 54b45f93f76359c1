import Foundation
import FuzzSupport
import KindredIndex
import Logging

/// An index snapshot (Schema/hnsw.md), loaded then searched. The header's checksum (over
/// everything after the 64-byte header) is recomputed first so mutations reach the structural
/// checks; a file that loads must then answer a search without crashing.
@_cdecl("fuzz_snapshot_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzSnapshot(data!, size) }
}

func fuzzSnapshot(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.count >= 64 { bytes = withChecksum(bytes, of: 64..<bytes.count, at: 56) }
    guard let index = try? HNSWIndex.load(from: scratch.write(bytes), logger: Logger(label: "fuzz")) else { return 0 }
    _ = try? index.search([Float](repeating: 0.5, count: index.dimension), k: 5, ef: 16)
    return 0
}
