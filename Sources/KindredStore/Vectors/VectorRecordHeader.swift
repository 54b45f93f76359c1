import Foundation  // String(format:)
import KindredCore

/// The 16 bytes in front of every vector in LMDB (Schema/lmdb.md is the specification):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 2 | magic `KV` |
/// | 2 | 1 | record format version (2; version 1 records, float32 or uint8, are read too) |
/// | 3 | 1 | element type (1 float32, 2 uint8, 3 float16: version 2 only) |
/// | 4 | 4 | dimension, little-endian |
/// | 8 | 4 | producer version (model or feature code), little-endian |
/// | 12 | 4 | reserved, zero in version 1 |
///
/// The header lets a reader reject a foreign or damaged record instead of misreading it, and
/// tells which model produced a vector, so a model upgrade can find what to re-extract.
public struct VectorRecordHeader: Equatable, Sendable {
    public static let size = 16
    /// Version 2 added float16 payloads; a build that reads only version 1 refuses them by name
    /// rather than misreading them.
    public static let formatVersion: UInt8 = 2
    static let magic: (UInt8, UInt8) = (0x4B, 0x56)  // "KV"

    public var element: VectorElement
    public var dimension: Int
    public var producer: UInt32

    func encode(into buffer: UnsafeMutableRawBufferPointer) {
        buffer[0] = Self.magic.0
        buffer[1] = Self.magic.1
        buffer[2] = Self.formatVersion
        buffer[3] = element.rawValue
        buffer.storeBytes(of: UInt32(dimension).littleEndian, toByteOffset: 4, as: UInt32.self)
        buffer.storeBytes(of: producer.littleEndian, toByteOffset: 8, as: UInt32.self)
        buffer.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
    }

    /// Parses and checks a record's header against the space it was read from.
    static func decode(
        _ record: UnsafeRawBufferPointer, space: VectorSpace
    ) throws(VectorStoreError.Reason) -> VectorRecordHeader {
        guard record.count >= size else {
            throw .corruptRecord("\(record.count) bytes, shorter than the 16-byte header")
        }
        guard record[0] == magic.0, record[1] == magic.1 else {
            throw .corruptRecord(String(format: "bad magic %02x %02x (expected 4b 56, \"KV\")", record[0], record[1]))
        }
        guard (1...formatVersion).contains(record[2]) else {
            throw .corruptRecord("record format version \(record[2]); this build reads versions 1 to \(formatVersion)")
        }
        guard let element = VectorElement(rawValue: record[3]), record[2] >= 2 || element != .float16 else {
            throw .corruptRecord("unknown element type \(record[3]) for record format version \(record[2])")
        }
        let dimension = Int(UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        let producer = UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        // A float space's records may be float32 or float16 (a migration between them may be
        // under way); the caller sees floats either way.
        guard element == space.element || (element.isFloat && space.element.isFloat), dimension == space.dimension
        else {
            throw .corruptRecord(
                "record holds \(dimension) × \(element), space is \(space.dimension) × \(space.element)")
        }
        guard record.count == size + dimension * element.byteSize else {
            throw .corruptRecord("\(record.count) bytes, header promises \(size + dimension * element.byteSize)")
        }
        return VectorRecordHeader(element: element, dimension: dimension, producer: producer)
    }
}
