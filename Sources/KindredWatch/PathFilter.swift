import Glibc
import KindredCore

/// Which files under a root belong to the collection: include and exclude globs (fnmatch, case
/// insensitive) and whether hidden names count. A pattern without `/` matches the file or
/// directory name; one with `/` matches the path relative to its root, `*` not crossing a `/`. Exclusions win, and an
/// excluded directory is not descended into.
public struct PathFilter: Sendable, Equatable {
    public var include: [String]
    public var exclude: [String]
    public var hidden: Bool

    /// Everything but hidden names.
    public init(include: [String] = ["*"], exclude: [String] = [], hidden: Bool = false) {
        self.include = include
        self.exclude = exclude
        self.hidden = hidden
    }

    /// Whether the file at `relativePath` (below its root, no leading `/`) is in the collection.
    public func accepts(file relativePath: Substring) -> Bool {
        guard passes(relativePath) else { return false }
        return include.contains { matches($0, relativePath) }
    }

    /// Whether a directory at `relativePath` is descended into.
    public func accepts(directory relativePath: Substring) -> Bool { passes(relativePath) }

    private func passes(_ relativePath: Substring) -> Bool {
        if !hidden, CollectionPath.components(of: relativePath).contains(where: { $0.utf8.first == UInt8(ascii: ".") })
        {
            return false
        }
        return !exclude.contains { matches($0, relativePath) }
    }

    private func matches(_ pattern: String, _ relativePath: Substring) -> Bool {
        guard pattern.utf8.contains(UInt8(ascii: "/")) else {
            return fnmatch(
                pattern, String(CollectionPath.components(of: relativePath).last ?? relativePath), Self.caseFold) == 0
        }
        // A `*` in a path pattern stays within one directory level, as in a shell.
        return fnmatch(pattern, String(relativePath), Self.caseFold | FNM_PATHNAME) == 0
    }

    /// glibc's FNM_CASEFOLD, which Swift does not import because it sits behind _GNU_SOURCE.
    private static let caseFold: Int32 = 1 << 4
}
