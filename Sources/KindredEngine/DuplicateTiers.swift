import KindredCore
import KindredIndex
import KindredStore

/// Duplicates in tiers (`DuplicateTier`), each group with a suggested keeper.
extension Duplicates {
    /// The least CNN cosine for two items to be `similar` duplicates. Picked high because that
    /// tier has no pHash check: pictures the CNN merely finds alike (two moon phases score 0.97 on
    /// the demo) are not duplicates. Not tuned on a dev set yet.
    public static let similarCosine: Float = 0.97
    /// Neighbours asked of the index per item for the `similar` tier.
    static let similarNeighbours = 10

    /// The groups at `tier`, each in id order, the groups in order of their first id.
    public static func groups(
        _ tier: DuplicateTier, catalog: Catalog, store: VectorStore, index: LiveIndex, maxDistance: Int
    ) throws -> [[ItemID]] {
        switch tier {
        case .exact: try catalog.identicalContent()
        case .near: try groups(store: store, maxDistance: maxDistance)
        case .similar: try similarGroups(store: store, index: index, minimumCosine: similarCosine)
        }
    }

    /// Items whose CNN embeddings are within `minimumCosine` of a neighbour, joined transitively;
    /// the neighbours come from the live index.
    static func similarGroups(store: VectorStore, index: LiveIndex, minimumCosine: Float) throws -> [[ItemID]] {
        let ids = try store.ids(space: StandardSpaces.cnn.name)
        var parent: [UInt64: UInt64] = [:]
        func root(_ id: UInt64) -> UInt64 {
            var id = id
            while let up = parent[id], up != id {
                parent[id] = parent[up] ?? up
                id = up
            }
            return id
        }
        // The vectors are read a chunk at a time, not all at once (5 GB of floats at a million items).
        let dimension = StandardSpaces.cnn.dimension, chunk = 4096
        var vectors = [Float](repeating: 0, count: chunk * dimension), present = [Bool](repeating: false, count: chunk)
        for start in stride(from: 0, to: ids.count, by: chunk) {
            let rows = start..<min(ids.count, start + chunk)
            try store.withReader(space: StandardSpaces.cnn.name) { reader in
                vectors.withUnsafeMutableBufferPointer { buffer in
                    for (k, row) in rows.enumerated() {
                        present[k] = reader.copyVector(
                            ids[row].rawValue,
                            into: UnsafeMutableBufferPointer(rebasing: buffer[(k * dimension)..<((k + 1) * dimension)]))
                    }
                }
            }
            for (k, row) in rows.enumerated() where present[k] {
                let id = ids[row].rawValue
                let query = Array(vectors[(k * dimension)..<((k + 1) * dimension)])
                for neighbour in try index.search(query, k: similarNeighbours, ef: 64, excluding: id)
                where 1 - neighbour.distance >= minimumCosine {
                    let (a, b) = (root(id), root(neighbour.label))
                    if a != b { parent[max(a, b)] = min(a, b) }
                }
            }
        }
        var grouped: [UInt64: [ItemID]] = [:]
        for id in ids { grouped[root(id.rawValue), default: []].append(id) }
        return grouped.values.filter { $0.count > 1 }.map { $0.sorted() }.sorted { $0[0] < $1[0] }
    }

    /// The copy to keep of a group: the most pixels, then the least compression (the most bytes a
    /// pixel), then the oldest file, then the first indexed.
    public static func keeper(_ items: [CatalogItem]) -> CatalogItem? {
        func pixels(_ item: CatalogItem) -> Int { (item.width ?? 0) * (item.height ?? 0) }
        func bytesPerPixel(_ item: CatalogItem) -> Double { Double(item.size) / Double(max(1, pixels(item))) }
        return items.min { a, b in
            if pixels(a) != pixels(b) { return pixels(a) > pixels(b) }
            if bytesPerPixel(a) != bytesPerPixel(b) { return bytesPerPixel(a) > bytesPerPixel(b) }
            if a.mtimeNs != b.mtimeNs { return a.mtimeNs < b.mtimeNs }
            return (a.id ?? .max) < (b.id ?? .max)
        }
    }
}
