/// Disjoint sets over 0..<count with path compression: HDBSCAN's single linkage and Borůvka
/// rounds, UMAP's connectivity check, and near-duplicate groups (`Duplicates`).
public struct UnionFind: Sendable {
    private var parent: [Int]

    public init(count: Int) { parent = Array(0..<count) }

    public mutating func find(_ i: Int) -> Int {
        var root = i
        while parent[root] != root { root = parent[root] }
        var j = i
        while parent[j] != root { let next = parent[j]; parent[j] = root; j = next }
        return root
    }

    /// Makes `child`'s set part of `root`'s (both must be representatives).
    public mutating func attach(_ child: Int, to root: Int) { parent[child] = root }
}
