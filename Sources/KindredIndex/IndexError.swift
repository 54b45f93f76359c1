import Foundation  // strerror

/// Why an index operation failed, worded to say what to do about it.
public enum IndexError: Error, CustomStringConvertible, Equatable {
    case invalidParameter(name: String, value: String, requirement: String)
    case dimensionMismatch(expected: Int, got: Int)
    case badFile(path: String, reason: String)
    case io(path: String, errno: Int32)
    case integrity([String])

    public var description: String {
        switch self {
        case .invalidParameter(let name, let value, let requirement):
            return "\(name) = \(value) is invalid: \(requirement)"
        case .dimensionMismatch(let expected, let got):
            return
                "vector has \(got) components but the index holds \(expected)-d vectors; use vectors from the same model or build a new index"
        case .badFile(let path, let reason):
            return
                "\(path): not a usable Kindred HNSW index: \(reason). Rebuild it with `kindred index build` (kindredd rebuilds its own from the vector store)"
        case .io(let path, let code):
            return "\(path): \(String(cString: strerror(code)))"
        case .integrity(let problems):
            let shown = problems.prefix(10).joined(separator: "; ")
            return "index integrity check failed (\(problems.count) problem\(problems.count == 1 ? "" : "s")): \(shown)"
        }
    }
}
