import KindredCore

/// Why an analysis step could not run, naming the step and what to change.
public enum AnalysisError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidParameter(name: String, value: String, requirement: String)
    case tooFewPoints(needed: Int, got: Int, step: String)
    case numerical(step: String, reason: String)
    /// The data itself cannot be used, with what to do about it.
    case badInput(step: String, reason: String)
    /// The caller asked the step to stop (`UMAP.Options.shouldStop`).
    case cancelled(step: String, after: String)

    public var description: String {
        switch self {
        case .invalidParameter(let name, let value, let requirement): "\(name) = \(value) is invalid: \(requirement)"
        case .tooFewPoints(let needed, let got, let step): "\(step) needs at least \(needed) points, got \(got)"
        case .numerical(let step, let reason): "\(step): \(reason)"
        case .badInput(let step, let reason): "\(step): \(reason)"
        case .cancelled(let step, let after): "\(step) cancelled after \(after)"
        }
    }
}

extension Matrix {
    /// Rejects rows with NaN or infinite values, and data whose rows are all the same: no step can
    /// make sense of either, and both otherwise surface as NaN layouts or empty clusterings.
    func validateForAnalysis(step: String) throws(AnalysisError) {
        for row in 0..<rows {
            for c in 0..<columns where !storage[row * columns + c].isFinite {
                throw .badInput(
                    step: step,
                    reason: "row \(row) has a NaN or infinite value in column \(c); drop or impute such rows first")
            }
        }
        guard rows > 1 else { return }
        let first = storage[0..<columns]
        if (1..<rows).allSatisfy({ storage[($0 * columns)..<(($0 + 1) * columns)].elementsEqual(first) }) {
            throw .badInput(
                step: step, reason: "all \(rows) rows are identical, so there is nothing to lay out or cluster")
        }
    }
}
