/// How a space's components are stored.
public enum VectorElement: UInt8, Sendable, Codable, CustomStringConvertible {
    case float32 = 1
    /// Raw bytes, e.g. the 8 bytes of a 64-bit perceptual hash.
    case uint8 = 2
    /// IEEE half precision: how a float space may be stored to take half the bytes. Readers and
    /// writers still see floats; the store converts.
    case float16 = 3

    public var byteSize: Int {
        switch self {
        case .float32: 4
        case .uint8: 1
        case .float16: 2
        }
    }

    public var description: String {
        switch self {
        case .float32: "float32"
        case .uint8: "uint8"
        case .float16: "float16"
        }
    }

    /// Whether values of this element are floats to the caller (stored as float32 or float16).
    public var isFloat: Bool { self != .uint8 }

    /// The largest magnitude a float element keeps as it is: float16 turns anything past 65,504
    /// into an infinity.
    public var largestStorableMagnitude: Float {
        self == .float16 ? 65_504 : .greatestFiniteMagnitude
    }

    /// The first of `values` this (float) element cannot store as it is: a NaN, an infinity, or a
    /// magnitude past `largestStorableMagnitude`; nil when every one can be. Such a value would
    /// poison every distance to its vector, so the store refuses it (`VectorStore.Batch.put`), and
    /// a border that takes vectors from outside asks here first to name the row.
    public func firstUnstorable(_ values: UnsafeBufferPointer<Float>) -> (index: Int, value: Float)? {
        let limit = largestStorableMagnitude
        for (index, value) in values.enumerated() where !(abs(value) <= limit) { return (index, value) }
        return nil
    }
}

/// The vector spaces Kindred keeps for every image: the one list of their names, lengths and
/// element types. The daemon, the CLI, the visuals and the protocol all take them from here; the
/// producers (the network, the descriptors) check that they make vectors of these lengths, and
/// the store pairs each with its producer version (`StandardSpaces`).
public enum Space: String, CaseIterable, Sendable, Codable {
    /// EfficientNet-Lite0's pooled features.
    case cnn
    /// Value, hue, texture and layout descriptors.
    case style
    /// A 64-bit perceptual hash, as 8 bytes.
    case phash
    /// A `thumbnailSide`² RGB thumbnail (3 KB), for maps of large collections.
    case thumb

    public var name: String { rawValue }

    public var dimension: Int {
        switch self {
        case .cnn: 1280
        case .style: 142
        case .phash: 8
        case .thumb: Self.thumbnailSide * Self.thumbnailSide * 3
        }
    }

    /// How the store keeps the space. The CNN's 1280 floats are stored as float16: 2,576 bytes
    /// a record, one 4 KiB LMDB page where float32 took two, with a relative error of 2⁻¹¹ a
    /// component (cosine to the float32 vector above 0.99999; Benchmarks/RESULTS.md).
    public var element: VectorElement {
        switch self {
        case .cnn: .float16
        case .style: .float32
        case .phash, .thumb: .uint8
        }
    }

    /// The spaces with an HNSW index, which `SIMILAR space=` may name.
    public static let searchable: [Space] = [.cnn, .style]
    public var isSearchable: Bool { Self.searchable.contains(self) }

    public static let thumbnailSide = 32
}

/// The CNN's input: a square RGB image of `side` pixels, as `count` floats (HWC).
public enum CNNInput {
    public static let side = 224
    public static let channels = 3
    public static let count = side * side * channels
    /// The classifier head's ImageNet classes.
    public static let classes = 1000
}

/// How alike two files must be to count as duplicates (`DUPLICATES tier=`).
public enum DuplicateTier: String, CaseIterable, Sendable {
    /// The same bytes (content hash).
    case exact
    /// The same picture re-encoded, rescaled or lightly edited: perceptual hashes within
    /// `max_distance` bits and CNN embeddings that agree.
    case near
    /// The CNN alone sees the same picture (crops, borders, stronger edits), without the pHash.
    case similar
}
