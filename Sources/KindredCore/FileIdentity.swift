import Foundation

/// Which file a path names, after symbolic links: the device and inode `stat` reports. Two paths
/// with one identity (a link and its target, or two hard links) read the same bytes, so what is
/// computed from one is true of the other. This type owns "these paths are one file".
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    /// The file `path` names, or nil when it cannot be stat'ed (gone, a dangling link, no access).
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    /// `paths` grouped by the file each names: `first` holds the index of each file's first path,
    /// in order, and `group[i]` the position in `first` of path i's file. A path that cannot be
    /// stat'ed is a file of its own (whatever reads it reports why).
    public static func group(_ paths: [String]) -> (first: [Int], group: [Int]) {
        var seen: [FileIdentity: Int] = [:]
        var first: [Int] = [], group: [Int] = []
        first.reserveCapacity(paths.count)
        group.reserveCapacity(paths.count)
        for (i, path) in paths.enumerated() {
            let identity = FileIdentity(path: path)
            if let identity, let known = seen[identity] {
                group.append(known)
                continue
            }
            if let identity { seen[identity] = first.count }
            group.append(first.count)
            first.append(i)
        }
        return (first, group)
    }
}
