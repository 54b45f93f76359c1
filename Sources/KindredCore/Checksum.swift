/// A 64-bit checksum over 8-byte words: xxHash64's round (multiply, rotate, multiply) on one lane
/// with its avalanche at the end. About 1 byte per cycle, ample for files read at disk speed, and
/// enough to tell a damaged or truncated file from a good one. Not for adversaries.
public struct Checksum: Sendable {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private var state: UInt64 = 0x4B4E_4452_4853_5731  // "KNDRHSW1"
    private var length: UInt64 = 0

    /// Adds bytes; callers pass whole sections whose length is a multiple of 8 except the last.
    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        let words = bytes.count / 8
        var h = state
        for i in 0..<words {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
            h ^= Self.rotate(word &* Self.prime2, 31) &* Self.prime1
            h = Self.rotate(h, 27) &* Self.prime1 &+ Self.prime3
        }
        for i in (words * 8)..<bytes.count {
            h ^= UInt64(bytes[i]) &* Self.prime3
            h = Self.rotate(h, 11) &* Self.prime1
        }
        state = h
        length &+= UInt64(bytes.count)
    }

    public var value: UInt64 {
        var h = state ^ length
        h ^= h >> 33
        h = h &* Self.prime2
        h ^= h >> 29
        h = h &* Self.prime3
        return h ^ (h >> 32)
    }

    @inline(__always) private static func rotate(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
}
