/// Why model weights could not be read, converted or used, with what to do about it.
public struct WeightsError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        "\(path): \(reason). Run `kindred model install` to fetch and convert the EfficientNet-Lite0 weights again"
    }
}
