import COpenBLAS
import KindredCore
import KindredStore

/// Near-duplicate groups: items whose 64-bit perceptual hashes differ in at most `maxDistance` bits
/// and whose CNN embeddings agree (cosine ≥ `minimumCosine`), joined transitively.
///
/// Candidates come from multi-index hashing: the hash is cut into `maxDistance + 1` blocks, and by
/// the pigeonhole principle two hashes within `maxDistance` bits agree exactly on at least one
/// block, so only items sharing a block value are compared, not all n² pairs.
public enum Duplicates {
    public static func groups(store: VectorStore, maxDistance: Int, minimumCosine: Float = 0.85) throws -> [[ItemID]] {
        let (ids, bytes) = try store.readAll(space: StandardSpaces.phash.name, as: UInt8.self)
        let hashes = (0..<ids.count).map { i in (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[i * 8 + $1]) } }
        let blocks = maxDistance + 1
        let widths = (0..<blocks).map { 64 / blocks + ($0 < 64 % blocks ? 1 : 0) }
        var parent = Array(0..<ids.count)
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
            return i
        }
        var cnn: [ItemID: [Float]] = [:]
        func embedding(_ id: ItemID) throws -> [Float]? {
            if let cached = cnn[id] { return cached }
            let vector = try store.vector(id, space: StandardSpaces.cnn.name)
            cnn[id] = vector
            return vector
        }
        var shift = 0
        for width in widths {
            var buckets: [UInt64: [Int]] = [:]
            let mask: UInt64 = width >= 64 ? ~0 : (1 << UInt64(width)) - 1
            for (i, hash) in hashes.enumerated() { buckets[(hash >> UInt64(shift)) & mask, default: []].append(i) }
            shift += width
            for members in buckets.values where members.count > 1 {
                for a in 0..<members.count {
                    for b in (a + 1)..<members.count {
                        let (i, j) = (members[a], members[b])
                        guard root(i) != root(j), (hashes[i] ^ hashes[j]).nonzeroBitCount <= maxDistance,
                            let x = try embedding(ids[i]), let y = try embedding(ids[j]),
                            cblas_sdot(Int32(x.count), x, 1, y, 1) >= minimumCosine
                        else { continue }
                        parent[root(i)] = root(j)
                    }
                }
            }
        }
        var grouped: [Int: [ItemID]] = [:]
        for i in ids.indices { grouped[root(i), default: []].append(ids[i]) }
        return grouped.values.filter { $0.count > 1 }.map { $0.sorted() }.sorted { $0[0] < $1[0] }
    }
}
