import Foundation
import KindredCore

/// An index snapshot's bytes rewritten as a file of `version` 1 or 2 would hold them: that version
/// number, and the checksum those versions carried. The old writer fed `Checksum` each section and
/// then its padding as separate pieces (Schema/hnsw.md), and the value depends on where the pieces
/// break, so the sections are found again from the header: labels, levels, states, rows, layer-0
/// links, upper-layer links.
public func withLegacyChecksum(_ bytes: Data, version: UInt8) -> Data {
    let data = [UInt8](bytes)
    func field(_ at: Int) -> Int { data[at..<(at + 4)].reversed().reduce(0) { $0 << 8 | Int($1) } }
    func padded(_ count: Int) -> Int { (count + 7) / 8 * 8 }
    let (slots, connectivity, upperWords) = (field(40), field(24), field(52))
    let links = slots * (2 * connectivity + 1) * 4
    let fixed = 64 + slots * 8 + 2 * padded(slots) + padded(links) + padded(upperWords * 4)
    let sections = [slots * 8, slots, slots, data.count - fixed, links, upperWords * 4]
    var checksum = Checksum()
    var offset = 64
    data.withUnsafeBytes { body in
        for length in sections {
            checksum.update(UnsafeRawBufferPointer(rebasing: body[offset..<(offset + length)]))
            checksum.update(UnsafeRawBufferPointer(rebasing: body[(offset + length)..<(offset + padded(length))]))
            offset += padded(length)
        }
    }
    precondition(offset == data.count, "withLegacyChecksum: the sections do not add up to the file")
    var old = data
    old.replaceSubrange(8..<12, with: [version, 0, 0, 0])
    old.replaceSubrange(56..<64, with: (0..<8).map { UInt8(truncatingIfNeeded: checksum.value >> (8 * UInt64($0))) })
    return Data(old)
}
