import Foundation
import FuzzSupport
import KindredIndex
import Logging

/// An index snapshot (Schema/hnsw.md), loaded then searched. The header's checksum (over
/// everything after the 64-byte header, by the version the header claims) is recomputed first so
/// mutations reach the structural checks; a file that loads must then answer a search without
/// crashing.
@_cdecl("fuzz_snapshot_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzSnapshot(data!, size) }
}

func fuzzSnapshot(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.count >= 64 {
        // The checksum of the version the header claims (XXH3 from version 3).
        let version = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let checksum = SnapshotChecksum(formatVersion: version)
        bytes.withUnsafeBytes { checksum.update(UnsafeRawBufferPointer(rebasing: $0[64...])) }
        for i in 0..<8 { bytes[56 + i] = UInt8(truncatingIfNeeded: checksum.value >> (8 * UInt64(i))) }
    }
    guard let index = try? HNSWIndex.load(from: scratch.write(bytes), logger: Logger(label: "fuzz")) else { return 0 }
    _ = try? index.search([Float](repeating: 0.5, count: index.dimension), k: 5, ef: 16)
    return 0
}
