import KindredImaging
import KindredStore

/// Why a map, report or contact sheet could not be made.
public enum VisualsError: Error, CustomStringConvertible, Sendable {
    case noRun(requested: Int64?)
    case runNotDone(id: Int64, status: String)
    case invalidOption(name: String, value: String, requirement: String)
    case catalog(CatalogError)
    /// Reading the run failed (the catalog, or kindredd through its socket).
    case source(String)
    case image(ImageError)
    case font(path: String, reason: String)
    case write(path: String, reason: String)

    public var description: String {
        switch self {
        case .noRun(let requested):
            requested.map { "run \($0) does not exist (kindred runs lists the kept runs)" }
                ?? "no finished refit yet: run `kindred refit --wait` first"
        case .runNotDone(let id, let status): "run \(id) is \(status), not done"
        case .invalidOption(let name, let value, let requirement): "--\(name) \(value): must be \(requirement)"
        case .catalog(let error): "\(error)"
        case .source(let reason): reason
        case .image(let error): "\(error)"
        case .font(let path, let reason): "font \(path): \(reason)"
        case .write(let path, let reason): "cannot write \(path): \(reason)"
        }
    }
}
