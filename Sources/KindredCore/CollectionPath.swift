import Foundation

/// Why a path was refused.
public struct PathError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not absolute, empty, a NUL byte, or a `.`/`..` component.
        case malformed
        /// Does not exist, or is not a directory where one is needed.
        case notFound
        /// A directory that may not be a root (`/`, a pseudo file system, outside the allowed prefixes).
        case refused
        /// Inside or around a root that is already watched.
        case overlapping
    }

    public let path: String
    public let kind: Kind
    public let reason: String

    public init(_ path: String, _ kind: Kind, _ reason: String) {
        self.path = path
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// An absolute path in canonical form: it starts with `/`, has no empty, `.` or `..` component,
/// no trailing `/` (except `/` itself) and no NUL. This type owns "a path under a directory":
/// every such question in Kindred (the catalog's prefix queries, the watcher, the daemon's checks
/// on requests) goes through `isWithin`, `relative(to:)` and `descendantRange`, which compare
/// UTF-8 bytes, as the file system and SQLite's BINARY collation do. (Swift's `String.hasPrefix`
/// compares characters under canonical equivalence, so `Musée` in NFC and NFD would match each
/// other there and a byte count would not line up with it.)
public struct CollectionPath: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let string: String

    private init(unchecked string: String) { self.string = string }

    /// The canonical form of `text`, lexically: repeated and trailing slashes are dropped; a
    /// relative path, a NUL byte, or a `.` or `..` component is refused (resolving `..` without
    /// the file system would be wrong across symbolic links, so it is the caller's job, through
    /// `resolvingDirectory`).
    public init(_ text: String) throws(PathError) {
        guard text.utf8.first == UInt8(ascii: "/") else { throw PathError(text, .malformed, "not an absolute path") }
        guard !text.utf8.contains(0) else { throw PathError(text, .malformed, "contains a NUL byte") }
        let components = Self.components(of: Substring(text))
        for component in components
        where component.utf8.elementsEqual(".".utf8) || component.utf8.elementsEqual("..".utf8) {
            throw PathError(text, .malformed, "has a '\(component)' component")
        }
        string = "/" + components.joined(separator: "/")
    }

    /// The non-empty components of a path, split at the byte '/' as the kernel splits them. Not at
    /// the Character "/": a slash followed by a combining mark is one Character to Swift, so
    /// "/art/../\u{301}" would read as the components "art" and "../\u{301}" and pass for a path
    /// under /art. The watcher's filter splits through here too (`PathFilter`).
    public static func components(of path: Substring) -> [Substring] {
        path.utf8.split(separator: UInt8(ascii: "/")).map { Substring($0) }
    }

    /// An existing directory, with symbolic links and `..` resolved by the file system (realpath).
    public static func resolvingDirectory(_ text: String) throws(PathError) -> CollectionPath {
        guard text.utf8.first == UInt8(ascii: "/") else { throw PathError(text, .malformed, "not an absolute path") }
        var info = stat()
        guard stat(text, &info) == 0 else { throw PathError(text, .notFound, String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw PathError(text, .notFound, "not a directory") }
        guard let resolved = realpath(text, nil) else {
            throw PathError(text, .notFound, String(cString: strerror(errno)))
        }
        defer { free(resolved) }
        return try CollectionPath(String(cString: resolved))
    }

    public var description: String { string }

    /// The file system device (`st_dev`) the path is on now, or nil when it cannot be stat'ed:
    /// what a root records, so a share unmounted under it is noticed (Schema/catalog/004).
    public var device: Int64? {
        var info = stat()
        return stat(string, &info) == 0 ? Int64(bitPattern: UInt64(info.st_dev)) : nil
    }
    public var isFileSystemRoot: Bool { string == "/" }

    /// Whether this path is `directory` or lies below it.
    public func isWithin(_ directory: CollectionPath) -> Bool {
        self == directory || isStrictlyInside(directory)
    }

    /// Whether this path lies below `directory` (not equal to it).
    public func isStrictlyInside(_ directory: CollectionPath) -> Bool {
        if directory.isFileSystemRoot { return !isFileSystemRoot }
        let mine = string.utf8, theirs = directory.string.utf8
        guard mine.count > theirs.count, mine.starts(with: theirs) else { return false }
        return mine[mine.index(mine.startIndex, offsetBy: theirs.count)] == UInt8(ascii: "/")
    }

    /// The part below `directory` (no leading slash), or nil when this path is not strictly inside it.
    public func relative(to directory: CollectionPath) -> Substring? {
        guard isStrictlyInside(directory) else { return nil }
        let skip = directory.isFileSystemRoot ? 1 : directory.string.utf8.count + 1
        return string[string.utf8.index(string.utf8.startIndex, offsetBy: skip)...]
    }

    /// This path with the leading `from` replaced by `to` (a renamed directory's descendants).
    public func moved(from: CollectionPath, to: CollectionPath) -> CollectionPath? {
        if self == from { return to }
        guard let below = relative(to: from) else { return nil }
        return to.isFileSystemRoot
            ? CollectionPath(unchecked: "/" + below) : CollectionPath(unchecked: to.string + "/" + below)
    }

    /// The half-open range of strings, in byte order, that hold exactly the paths strictly
    /// inside this directory: `[dir + "/", dir + "0")`, since `0` follows `/` in ASCII. It is what
    /// the catalog's prefix queries use (`path >= ? AND path < ?`), byte-exact and served by the
    /// unique index on `path`.
    public var descendantRange: (lower: String, upper: String) {
        isFileSystemRoot ? ("/", "0") : (string + "/", string + "0")
    }

    public static func < (a: CollectionPath, b: CollectionPath) -> Bool {
        a.string.utf8.lexicographicallyPrecedes(b.string.utf8)
    }
}

/// The watched roots, and the rules a new one must meet: this type owns "which root is a path
/// under" and "may this directory become a root".
public struct RootSet: Sendable, Equatable {
    public private(set) var roots: [CollectionPath]

    /// Directories that are never roots, with everything below them: the kernel's pseudo file
    /// systems, whose "files" are live kernel state, not images.
    public static let forbidden: [CollectionPath] = ["/proc", "/sys", "/dev", "/run"].map { try! CollectionPath($0) }

    public init(_ roots: [CollectionPath] = []) {
        self.roots = roots.sorted()
    }

    /// The root `path` is strictly inside (roots never nest, so there is at most one).
    public func root(containing path: CollectionPath) -> CollectionPath? {
        roots.first { path.isStrictlyInside($0) }
    }

    /// Whether `path` is a root or lies below one.
    public func covers(_ path: CollectionPath) -> Bool {
        roots.contains { path.isWithin($0) }
    }

    /// Refuses a directory that may not become a root: `/`, a pseudo file system, anything outside
    /// `allowedPrefixes` (when given), and a directory inside or around a current root. Adding a
    /// root that is already one is allowed (it is a no-op for the caller).
    public func validateNew(_ root: CollectionPath, allowedPrefixes: [CollectionPath] = []) throws(PathError) {
        guard !root.isFileSystemRoot else {
            throw PathError(
                root.string, .refused,
                "the whole file system cannot be watched; name the directory that holds the images")
        }
        if let pseudo = Self.forbidden.first(where: { root.isWithin($0) }) {
            throw PathError(root.string, .refused, "\(pseudo) is a kernel pseudo file system, not a collection")
        }
        if !allowedPrefixes.isEmpty, !allowedPrefixes.contains(where: { root.isWithin($0) }) {
            throw PathError(
                root.string, .refused,
                "outside the directories the configuration allows to watch (\(allowedPrefixes.map(\.string).joined(separator: ", ")))"
            )
        }
        if roots.contains(root) { return }
        if let outer = roots.first(where: { root.isStrictlyInside($0) }) {
            throw PathError(root.string, .overlapping, "already watched as part of \(outer)")
        }
        if let inner = roots.first(where: { $0.isStrictlyInside(root) }) {
            throw PathError(root.string, .overlapping, "contains the watched root \(inner); UNWATCH it first")
        }
    }

    public mutating func insert(_ root: CollectionPath) {
        guard !roots.contains(root) else { return }
        roots.append(root)
        roots.sort()
    }

    public mutating func remove(_ root: CollectionPath) {
        roots.removeAll { $0 == root }
    }
}
