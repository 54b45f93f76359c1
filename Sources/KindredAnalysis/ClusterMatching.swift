/// Stable cluster identities across refits: a new run's clusters are matched to the previous
/// run's by member overlap (Jaccard index |A ∩ B| / |A ∪ B|), greedily from the best-overlapping
/// pair down, each cluster used once, pairs below `threshold` left unmatched. A matched cluster
/// keeps its id; the rest get ids never used before, largest cluster first. Previous clusters
/// left unmatched have vanished.
public enum ClusterMatching {
    public struct Result: Sendable, Equatable {
        /// New label → stable id.
        public var ids: [Int: Int]
        /// New label → the overlap with the previous cluster whose id it took.
        public var jaccard: [Int: Double]
        /// Previous ids with no successor.
        public var vanished: [Int]
        /// New labels that got a fresh id.
        public var born: [Int]
    }

    /// `threshold` 0.3: a cluster that kept under a third of its members' union is a different
    /// cluster for a collection manager's purposes; at 0.5 ordinary refit noise (UMAP seeds,
    /// 20 % new items) split identities that users see as the same group.
    public static func match(
        new: [Int: Set<UInt64>], previous: [Int: Set<UInt64>], threshold: Double = 0.3, firstNewID: Int
    ) -> Result {
        var owner: [UInt64: Int] = [:]
        for (id, members) in previous { for item in members { owner[item] = id } }
        var pairs: [(label: Int, id: Int, jaccard: Double)] = []
        for (label, members) in new {
            var overlap: [Int: Int] = [:]
            for item in members { if let id = owner[item] { overlap[id, default: 0] += 1 } }
            for (id, shared) in overlap {
                let jaccard = Double(shared) / Double(members.count + previous[id]!.count - shared)
                if jaccard >= threshold { pairs.append((label, id, jaccard)) }
            }
        }
        pairs.sort { ($0.jaccard, -$0.label, -$0.id) > ($1.jaccard, -$1.label, -$1.id) }
        var result = Result(ids: [:], jaccard: [:], vanished: [], born: [])
        var taken = Set<Int>()
        for pair in pairs where result.ids[pair.label] == nil && !taken.contains(pair.id) {
            result.ids[pair.label] = pair.id
            result.jaccard[pair.label] = pair.jaccard
            taken.insert(pair.id)
        }
        var next = firstNewID
        for label in new.keys.sorted(by: { (new[$0]!.count, -$0) > (new[$1]!.count, -$1) })
        where result.ids[label] == nil {
            result.ids[label] = next
            result.born.append(label)
            next += 1
        }
        result.vanished = previous.keys.filter { !taken.contains($0) }.sorted()
        return result
    }
}
