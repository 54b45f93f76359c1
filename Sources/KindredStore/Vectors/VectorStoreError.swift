import KindredCore

/// A vector-store failure, with the space and item it concerns.
public struct VectorStoreError: Error, CustomStringConvertible, WrapsLMDBError {
    public enum Reason: Error, Sendable {
        case unknownSpace(known: [String])
        case dimensionMismatch(expected: Int, got: Int)
        case elementMismatch(expected: VectorElement, got: VectorElement)
        /// A component the space's element cannot hold as it is (`VectorElement.firstUnstorable`).
        case unstorableValue(index: Int, value: Float, element: VectorElement)
        /// The space exists on disk with another shape.
        case spaceChanged(stored: VectorSpace)
        case corruptRecord(String)
        case corruptRegistry(String)
        /// A file of the store's own beside LMDB's (the clean-stop marker) could not be read or written.
        case stateFile(String)
        case lmdb(LMDBError)
    }

    public let reason: Reason
    public let space: String?
    public let item: ItemID?

    public init(_ reason: Reason, space: String? = nil, item: ItemID? = nil) {
        self.reason = reason
        self.space = space
        self.item = item
    }

    public var lmdbError: LMDBError? {
        if case .lmdb(let error) = reason { return error }
        return nil
    }

    public var description: String {
        var subject = space.map { "space \($0)" } ?? "vector store"
        if let item { subject += ", item \(item)" }
        switch reason {
        case .unknownSpace(let known): return "\(subject): no such space (known: \(known.joined(separator: ", ")))"
        case .dimensionMismatch(let expected, let got):
            return "\(subject): vector has \(got) components, the space holds \(expected)"
        case .elementMismatch(let expected, let got): return "\(subject): vector is \(got), the space holds \(expected)"
        case .unstorableValue(let index, let value, let element):
            return
                "\(subject): component \(index) is \(value); the space stores \(element), which holds finite values within ±\(element.largestStorableMagnitude)"
        case .spaceChanged(let stored):
            return
                "\(subject): the store holds it as \(stored); a different shape was asked for. Drop the space (`kindred store drop-space \(stored.name)`) and re-embed, or use a new space name"
        case .corruptRecord(let why): return "\(subject): corrupt or foreign record: \(why)"
        case .corruptRegistry(let why): return "\(subject): corrupt space registry: \(why)"
        case .stateFile(let why): return "\(subject): \(why)"
        case .lmdb(let error): return "\(subject): \(error)"
        }
    }
}
