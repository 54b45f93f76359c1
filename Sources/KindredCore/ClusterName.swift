import Foundation

/// A name a user gives a cluster (NAME-CLUSTER): the one place its rules live. The request parser
/// makes one at the border; the catalog stores only these.
public struct ClusterName: Sendable, Equatable, CustomStringConvertible {
    public static let maxLength = 80

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public let text: String
    public var description: String { text }

    /// Nil for an empty (or all-space) name, which removes one; throws for a name that is too
    /// long or holds a control character (a tab or line break would break every text answer and
    /// page it appears in).
    public init?(validating text: String) throws(Invalid) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        guard trimmed.count <= Self.maxLength else {
            throw Invalid(description: "a cluster name is at most \(Self.maxLength) characters")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Invalid(description: "a cluster name holds no control characters (tabs, line breaks)")
        }
        self.text = trimmed
    }
}
