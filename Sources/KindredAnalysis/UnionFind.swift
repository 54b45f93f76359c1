/// Disjoint sets over 0..<count with path compression: HDBSCAN's single linkage and Borůvka
/// rounds, and UMAP's connectivity check.
struct UnionFind {
    private(set) var parent: [Int]

    init(count: Int) { parent = Array(0..<count) }

    mutating func find(_ i: Int) -> Int {
        var root = i
        while parent[root] != root { root = parent[root] }
        var j = i
        while parent[j] != root { let next = parent[j]; parent[j] = root; j = next }
        return root
    }

    /// Makes `child`'s set part of `root`'s (both must be representatives).
    mutating func attach(_ child: Int, to root: Int) { parent[child] = root }
}
