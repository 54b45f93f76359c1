import KindredCore

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

    /// One of the standard spaces (`Space`), with the version of its producer.
    public init(_ space: Space, producer: UInt32) {
        self.init(name: space.name, dimension: space.dimension, element: space.element, producer: producer)
    }

    public var description: String { "\(name) (\(dimension) × \(element), producer v\(producer))" }

    /// LMDB database names are namespaced so spaces cannot collide with the registry.
    var databaseName: String { "space:" + name }
    var recordSize: Int { VectorRecordHeader.size + dimension * element.byteSize }
}
