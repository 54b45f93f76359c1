import KindredCore
import KindredImaging
import KindredStore

/// Where a map or report reads a refit run: the catalog itself (read-only, beside kindredd or
/// without it), or kindredd's socket for a user who may use the socket but not read the state
/// directory (`kindred map` chooses; the socket side lives in the CLI, which owns the client).
public protocol RunSource {
    /// Run `id`, or the current run; nil when there is none.
    func run(_ id: Int64?) throws -> RefitRun?
    func clusters(run: Int64) throws -> [ClusterFacts]
    /// Every member of the run with its path, in item-id order.
    func members(run: Int64) throws -> [(assignment: Assignment, path: String)]
}

/// An item's stored thumbnail (`side` × `side` RGB), when there is one.
public protocol ThumbnailSource {
    var side: Int { get }
    func image(_ item: ItemID) -> RGBImage?
}

/// Why each of an item's map neighbours matches it: the fused score's terms (`MatchTerms`), as
/// `SIMILAR … explain=1` gives them. The CLI answers from the stored vectors.
public protocol MatchExplainer {
    var weights: FusionWeights { get }
    /// One entry per neighbour, nil for one that cannot be explained (no stored vectors).
    func explain(_ item: ItemID, neighbours: [ItemID]) -> [MatchTerms?]
}

extension Catalog: RunSource {
    public func run(_ id: Int64?) throws -> RefitRun? {
        try id.map { try run($0) } ?? currentRun()
    }

    public func members(run: Int64) throws -> [(assignment: Assignment, path: String)] {
        try assignments(run: run)
    }
}

extension RunSource {
    /// The finished run a map or report shows: `id`, or the current run.
    func finishedRun(_ id: Int64?) throws(VisualsError) -> RefitRun {
        let found: RefitRun?
        do { found = try run(id) } catch { throw .source("\(error)") }
        guard let run = found else { throw .noRun(requested: id) }
        guard run.status == "done" else { throw .runNotDone(id: run.id, status: run.status) }
        return run
    }
}
