import KindredCore

/// How a space's components are stored.
public enum VectorElement: UInt8, Sendable, Codable, CustomStringConvertible {
    case float32 = 1
    /// Raw bytes, e.g. the 8 bytes of a 64-bit perceptual hash.
    case uint8 = 2

    public var byteSize: Int { self == .float32 ? 4 : 1 }
    public var description: String { self == .float32 ? "float32" : "uint8" }
}

/// A named kind of vector (`cnn`, `style`, `phash`): one LMDB database, fixed dimension and
/// element type. `producer` is the version of the model or feature code that makes the vectors;
/// raising it marks every existing record of the space stale without deleting it.
public struct VectorSpace: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    public var dimension: Int
    public var element: VectorElement
    public var producer: UInt32

    public init(name: String, dimension: Int, element: VectorElement = .float32, producer: UInt32 = 1) {
        self.name = name
        self.dimension = dimension
        self.element = element
        self.producer = producer
    }

    public var description: String { "\(name) (\(dimension) × \(element), producer v\(producer))" }

    /// LMDB database names are namespaced so spaces cannot collide with the registry.
    var databaseName: String { "space:" + name }
    var recordSize: Int { VectorRecordHeader.size + dimension * element.byteSize }
}
