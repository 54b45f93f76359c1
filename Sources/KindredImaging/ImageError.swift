/// Why an image could not be decoded: the file and a specific reason, e.g. "truncated JPEG data",
/// "PNG CRC mismatch", "image 100000×100000 exceeds pixel limit 150 MP".
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case unreadable, unsupportedFormat, corrupt, tooLarge
    }

    public let path: String
    public let kind: Kind
    public let reason: String

    public init(path: String, kind: Kind, reason: String) {
        self.path = path
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
