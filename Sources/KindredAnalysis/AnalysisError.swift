/// Why an analysis step could not run, naming the step and what to change.
public enum AnalysisError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidParameter(name: String, value: String, requirement: String)
    case tooFewPoints(needed: Int, got: Int, step: String)
    case numerical(step: String, reason: String)

    public var description: String {
        switch self {
        case .invalidParameter(let name, let value, let requirement): "\(name) = \(value) is invalid: \(requirement)"
        case .tooFewPoints(let needed, let got, let step): "\(step) needs at least \(needed) points, got \(got)"
        case .numerical(let step, let reason): "\(step): \(reason)"
        }
    }
}
