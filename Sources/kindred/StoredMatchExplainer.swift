import KindredCore
import KindredEngine
import KindredStore
import KindredVisuals
import Logging

/// The map's neighbour explanations, computed from the stored vectors by `Fusion` (the code
/// SIMILAR's re-ranking runs) with the standard weights: kindredd's own `[similar]` weights are
/// in its configuration file, which `kindred map` does not read; the page prints the weights it used.
struct StoredMatchExplainer: MatchExplainer {
    let store: VectorStore
    let fusion = Fusion().forItems
    let logger: Logger

    var weights: FusionWeights { fusion.weights }

    func explain(_ item: ItemID, neighbours: [ItemID]) -> [MatchTerms?] {
        do {
            guard let probe = try fusion.probe(of: item, store: store) else {
                return neighbours.map { _ in nil }
            }
            return try fusion.explain(neighbours, against: probe, store: store)
        } catch {
            logger.debug("no explanation", metadata: ["item": "\(item)", "error": "\(error)"])
            return neighbours.map { _ in nil }
        }
    }
}
