import Dispatch
import KindredCore

/// A k-d tree over low-dimensional points (a UMAP layout), for HDBSCAN's core distances and its
/// Borůvka minimum spanning tree. Nodes split at the median of their widest dimension; leaves hold
/// up to `leafSize` points. Points are kept in tree order in one buffer, so a leaf is contiguous.
struct KDTree {
    struct Node {
        var start: Int, end: Int  // range in `order`
        var left = -1, right = -1
        var lower: [Float], upper: [Float]  // bounding box
    }

    let dimension: Int
    /// Points in tree order (row-major), and the original row of each.
    let points: [Float]
    let order: [Int]
    private(set) var nodes: [Node] = []

    init(_ x: Matrix, leafSize: Int = 24) {
        dimension = x.columns
        var order = Array(0..<x.rows)
        var nodes: [Node] = []
        func box(_ range: Range<Int>) -> ([Float], [Float]) {
            var lower = [Float](repeating: .infinity, count: x.columns),
                upper = [Float](repeating: -.infinity, count: x.columns)
            for i in range {
                x.withRow(order[i]) {
                    for c in 0..<x.columns { lower[c] = min(lower[c], $0[c]); upper[c] = max(upper[c], $0[c]) }
                }
            }
            return (lower, upper)
        }
        func build(_ range: Range<Int>) -> Int {
            let (lower, upper) = box(range)
            let index = nodes.count
            nodes.append(Node(start: range.lowerBound, end: range.upperBound, lower: lower, upper: upper))
            guard range.count > leafSize else { return index }
            let axis = (0..<x.columns).max { upper[$0] - lower[$0] < upper[$1] - lower[$1] }!
            let middle = range.lowerBound + range.count / 2
            order[range].sort { a, b in x.storage[a * x.columns + axis] < x.storage[b * x.columns + axis] }
            let left = build(range.lowerBound..<middle)
            let right = build(middle..<range.upperBound)
            nodes[index].left = left
            nodes[index].right = right
            return index
        }
        _ = build(0..<x.rows)
        self.nodes = nodes
        self.order = order
        self.points = x.gathering(rows: order).storage
    }

    /// Squared distance from `query` to the node's box.
    @inline(__always)
    func boxDistance(_ node: Int, _ query: UnsafePointer<Float>) -> Float {
        var sum: Float = 0
        let n = nodes[node]
        for c in 0..<dimension {
            let q = query[c]
            let gap = q < n.lower[c] ? n.lower[c] - q : (q > n.upper[c] ? q - n.upper[c] : 0)
            sum += gap * gap
        }
        return sum
    }

    @inline(__always)
    func squaredDistance(_ position: Int, _ query: UnsafePointer<Float>) -> Float {
        var sum: Float = 0
        for c in 0..<dimension { let e = points[position * dimension + c] - query[c]; sum += e * e }
        return sum
    }

    /// The squared distances of the `k` nearest points to each point (itself included, at 0),
    /// ascending: row-major n × k, indexed by original row.
    func nearestDistances(k: Int, threads: Int) -> [Float] {
        let n = order.count
        var result = [Float](repeating: 0, count: n * k)
        let base = UInt(bitPattern: result.withUnsafeMutableBufferPointer { $0.baseAddress })
        let tree = self
        performDealt(items: n, workers: threads) { position in
            var heap = [Float](repeating: .infinity, count: k)  // ascending; heap[k-1] is the bound
            tree.points.withUnsafeBufferPointer { all in
                let query = all.baseAddress! + position * tree.dimension
                tree.searchNearest(0, query, &heap)
            }
            let out = UnsafeMutablePointer<Float>(bitPattern: base)! + tree.order[position] * k
            for j in 0..<k { out[j] = heap[j] }
        }
        return result
    }

    private func searchNearest(_ node: Int, _ query: UnsafePointer<Float>, _ best: inout [Float]) {
        let k = best.count
        if boxDistance(node, query) >= best[k - 1] { return }
        let n = nodes[node]
        if n.left < 0 {
            for p in n.start..<n.end {
                let d = squaredDistance(p, query)
                if d < best[k - 1] {
                    var j = k - 1
                    while j > 0, best[j - 1] > d { best[j] = best[j - 1]; j -= 1 }
                    best[j] = d
                }
            }
            return
        }
        let (near, far) =
            boxDistance(n.left, query) <= boxDistance(n.right, query) ? (n.left, n.right) : (n.right, n.left)
        searchNearest(near, query, &best)
        searchNearest(far, query, &best)
    }
}
