import Dispatch
import KindredCore

/// The minimum spanning tree of the mutual-reachability graph, max(core(a), core(b), d(a, b)), by
/// Borůvka's algorithm over a k-d tree: each round, every point finds its nearest point in another
/// component (in parallel), each component keeps its cheapest edge, and components merge, so
/// log₂ n rounds at most. The searches prune boxes farther than the best so far, boxes whose
/// points all share the searcher's component, and boxes whose smallest core distance is already
/// too large; and a point stops early when it finds an edge at its own core distance, which
/// nothing can beat.
struct BoruvkaMST {
    let tree: KDTree
    /// Core distances by tree position.
    let core: [Float]
    /// Core distances by original row.
    var coreByRow: [Float] {
        var out = [Float](repeating: 0, count: core.count)
        for (position, row) in tree.order.enumerated() { out[row] = core[position] }
        return out
    }
    let threads: Int

    init(_ x: Matrix, minSamples: Int, threads: Int) {
        tree = KDTree(x)
        self.threads = threads
        // The point itself comes first, at distance 0; the core distance is to the minSamples-th other.
        let k = minSamples + 1
        let nearest = tree.nearestDistances(k: k, threads: threads)  // by original row
        core = tree.order.map { nearest[$0 * k + k - 1].squareRoot() }
    }

    func edges() -> [HDBSCAN.Edge] {
        let n = tree.order.count
        var component = Array(0..<n)  // by tree position: the component's representative
        var sets = UnionFind(count: n)
        // Per node: its smallest core distance (fixed), and its one component or −1 (per round).
        var nodeCore = [Float](repeating: .infinity, count: tree.nodes.count)
        for node in (0..<tree.nodes.count).reversed() {
            let box = tree.nodes[node]
            nodeCore[node] =
                box.left < 0 ? core[box.start..<box.end].min()! : min(nodeCore[box.left], nodeCore[box.right])
        }
        var result: [HDBSCAN.Edge] = []
        var components = n
        while components > 1 {
            var nodeComponent = [Int](repeating: -1, count: tree.nodes.count)
            for node in (0..<tree.nodes.count).reversed() {
                let box = tree.nodes[node]
                if box.left < 0 {
                    let first = component[box.start]
                    nodeComponent[node] = component[box.start..<box.end].allSatisfy { $0 == first } ? first : -1
                } else {
                    let l = nodeComponent[box.left]
                    nodeComponent[node] = l >= 0 && l == nodeComponent[box.right] ? l : -1
                }
            }
            // Each point's cheapest edge out of its component.
            var found = [(to: Int, weight: Float)](repeating: (-1, .infinity), count: n)
            let search = Search(
                tree: tree, core: core, nodeCore: nodeCore, component: component, nodeComponent: nodeComponent)
            found.withUnsafeMutableBufferPointer { out in
                let base = UInt(bitPattern: out.baseAddress)
                performDealt(items: n, workers: threads) { p in
                    let slot = UnsafeMutablePointer<(to: Int, weight: Float)>(bitPattern: base)! + p
                    slot.pointee = search.nearestOutside(p)
                }
            }
            var cheapest: [Int: (from: Int, to: Int, weight: Float)] = [:]
            for p in 0..<n where found[p].to >= 0 {
                let c = component[p], candidate = (from: p, to: found[p].to, weight: found[p].weight)
                if let current = cheapest[c] {
                    if (candidate.weight, min(candidate.from, candidate.to), max(candidate.from, candidate.to))
                        < (current.weight, min(current.from, current.to), max(current.from, current.to))
                    {
                        cheapest[c] = candidate
                    }
                } else {
                    cheapest[c] = candidate
                }
            }
            guard !cheapest.isEmpty else { break }
            for c in cheapest.keys.sorted() {
                let edge = cheapest[c]!
                let a = sets.find(edge.from), b = sets.find(edge.to)
                guard a != b else { continue }
                sets.attach(max(a, b), to: min(a, b))
                components -= 1
                result.append(HDBSCAN.Edge(a: tree.order[edge.from], b: tree.order[edge.to], weight: edge.weight))
            }
            for p in 0..<n { component[p] = sets.find(p) }
        }
        return result
    }

    /// One round's read-only view for the parallel searches.
    private struct Search: @unchecked Sendable {
        let tree: KDTree
        let core: [Float]
        let nodeCore: [Float]
        let component: [Int]
        let nodeComponent: [Int]

        func nearestOutside(_ p: Int) -> (to: Int, weight: Float) {
            var best = (to: -1, weight: Float.infinity)
            tree.points.withUnsafeBufferPointer { all in
                let query = all.baseAddress! + p * tree.dimension
                visit(0, p, query, &best)
            }
            return best
        }

        private func visit(_ node: Int, _ p: Int, _ query: UnsafePointer<Float>, _ best: inout (to: Int, weight: Float))
        {
            let own = component[p], ownCore = core[p]
            if best.weight <= ownCore { return }  // nothing beats an edge at p's own core distance
            if nodeComponent[node] == own { return }
            if nodeCore[node] >= best.weight { return }
            let boxDistance = tree.boxDistance(node, query)
            if boxDistance >= best.weight * best.weight { return }
            let box = tree.nodes[node]
            if box.left < 0 {
                for q in box.start..<box.end where component[q] != own {
                    let weight = max(tree.squaredDistance(q, query).squareRoot(), ownCore, core[q])
                    if weight < best.weight || (weight == best.weight && q < best.to) { best = (q, weight) }
                }
                return
            }
            let (near, far) =
                tree.boxDistance(box.left, query) <= tree.boxDistance(box.right, query)
                ? (box.left, box.right) : (box.right, box.left)
            visit(near, p, query, &best)
            visit(far, p, query, &best)
        }
    }
}
