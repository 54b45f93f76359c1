import KindredCore
import KindredFeatures

/// Names a run's clusters from their members: the top folder most of them are filed under (below
/// their root: what a collection manager filed them as) and the ImageNet classes the network sees
/// in most of them ("animals · tabby, tiger cat"). The label is stored with the run; a user's
/// NAME-CLUSTER name, keyed by the stable id, is shown instead when there is one.
public struct ClusterLabeler: Sendable {
    /// A folder names the cluster when at least this share of its members is filed under it.
    public static let folderShare = 1.0 / 3
    /// A class joins the label when at least this share of the sampled members shows it.
    public static let classShare = 0.2
    /// Members sampled (evenly) per cluster for their classes: the labels of a million-item run
    /// must not cost a classifier pass over every vector.
    public static let classSample = 64

    let head: ImageNetHead?
    let roots: RootSet

    public init(head: ImageNetHead?, roots: RootSet) {
        self.head = head
        self.roots = roots
    }

    /// The top folder of `path` below its root, with `_` and `-` read as spaces; nil for a file
    /// directly in a root or outside every root.
    public func topFolder(of path: String) -> String? {
        guard let path = try? CollectionPath(path), let root = roots.root(containing: path),
            let relative = path.relative(to: root)
        else { return nil }
        // Split at the byte "/" (CollectionPath owns that): a name that begins with a combining
        // mark is a component of its own, not glued into one Character with the slash before it.
        let parts = CollectionPath.components(of: relative)
        guard parts.count >= 2 else { return nil }
        return String(parts[0].replacing("_", with: " ").replacing("-", with: " "))
    }

    /// Tallies the top folders of one cluster's members, fed one path at a time.
    public struct FolderCounts: Sendable {
        var counts: [String: Int] = [:]
        var total = 0

        public init() {}

        public mutating func add(_ folder: String?) {
            total += 1
            if let folder { counts[folder, default: 0] += 1 }
        }

        /// The folder most members are under (ties: the alphabetically first), if it holds enough.
        public var dominant: String? {
            guard let best = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }),
                Double(best.value) >= ClusterLabeler.folderShare * Double(total)
            else { return nil }
            return best.key
        }
    }

    /// The members whose classes are looked at: an even spread of at most `classSample`.
    public static func sample<T>(_ members: [T]) -> [T] {
        guard members.count > classSample else { return members }
        return (0..<classSample).map { members[$0 * members.count / classSample] }
    }

    /// The names of the classes shown by at least `classShare` of the sampled members (at most
    /// two, the most common first), else the single most common one. `members` holds each
    /// sampled member's class: the network's, kept at extraction (`Catalog.imagenetClasses`).
    public func classes(of members: [Int]) -> [String] {
        guard let head, !members.isEmpty else { return [] }
        var votes: [Int: Int] = [:]
        for c in members where head.names.indices.contains(c) { votes[c, default: 0] += 1 }
        let ranked = votes.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        let common = ranked.filter { Double($0.value) >= Self.classShare * Double(members.count) }.prefix(2)
        return (common.isEmpty ? ranked.prefix(1) : common).map { head.names[$0.key] }
    }

    /// The classifier's classes for stored vectors (count × 1280), for members extracted before
    /// their class was kept: the head on a stored unit vector (`ImageNetHead`), which agrees with
    /// the network less often when the vectors are not mean-pooled (`StandardSpaces.pooling`).
    public func classes(ofStored vectors: [Float], count: Int) -> [Int] {
        guard let head, count > 0 else { return [] }
        return head.topClass(vectors, count: count)
    }

    /// The label: "folder · class, class", either part alone, or nil when neither names it.
    public static func label(folder: String?, classes: [String]) -> String? {
        let parts = [folder, classes.isEmpty ? nil : classes.joined(separator: ", ")].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: " · ")
    }
}
