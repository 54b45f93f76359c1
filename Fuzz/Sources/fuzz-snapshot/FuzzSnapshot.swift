import Foundation
import FuzzSupport
import KindredIndex
import Logging

/// An index snapshot (Schema/hnsw.md), loaded, then used as kindredd uses the index it reads at
/// start: searched, an item inserted and one removed (reconciling with the store), compacted,
/// and searched again. The header's checksum (over everything after the 64-byte header, by the
/// version the header claims) is recomputed first so mutations reach the structural checks; a
/// file that loads must then take all of that without crashing.
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
    let query = [Float](repeating: 0.5, count: index.dimension)
    _ = try? index.search(query, k: 5, ef: 16)
    try? index.insert((0..<index.dimension).map { Float($0 % 7) - 3 }, label: UInt64.max - 1)
    if let label = index.liveLabels().min() { _ = index.remove(label: label) }
    index.compact()
    _ = try? index.search(query, k: 5, ef: 16)
    return 0
}
