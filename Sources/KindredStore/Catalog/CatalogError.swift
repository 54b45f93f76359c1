/// A catalog failure: what was being done, and SQLite's own message with its result code.
public struct CatalogError: Error, CustomStringConvertible {
    public let operation: String
    public let underlying: any Error

    public var description: String { "catalog: \(operation): \(underlying)" }
}
