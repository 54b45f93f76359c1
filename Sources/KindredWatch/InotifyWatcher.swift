import Foundation
import Glibc
import KindredCore
import Logging

/// What happened to a file under a watched root.
public enum FileEvent: Equatable, Sendable {
    /// Created or rewritten (closed after writing, or moved in from elsewhere).
    case changed(String)
    /// Deleted, or moved out of the watched roots. For a directory: everything under it.
    case removed(String)
    /// Moved within the watched roots.
    case renamed(from: String, to: String)
    /// The kernel's event queue overflowed: events were lost, so rescan everything.
    case overflow
}

/// What a scan of a directory tree found. A directory that could not be listed (EACCES, EMFILE,
/// an I/O error) is reported, never taken as empty: what lies below it is unknown, not gone.
public struct Listing: Sendable, Equatable {
    public var files: [String] = []
    /// Directories whose entries could not be read, with the reason.
    public var unlisted: [Unlisted] = []
    /// Entries whose names are not valid UTF-8 (shown with U+FFFD): Kindred's paths are UTF-8 text
    /// in the catalog and the protocol, so such files are skipped and logged, not mangled.
    public var skippedNames: [String] = []

    public struct Unlisted: Sendable, Equatable {
        public var directory: String
        public var reason: String
    }

    public init() {}

    /// Whether `path` lies in (or is) a directory that could not be listed.
    public func isUnknown(_ path: String) -> Bool {
        guard let path = try? CollectionPath(path) else { return false }
        return unlisted.contains { entry in (try? CollectionPath(entry.directory)).map { path.isWithin($0) } ?? false }
    }
}

/// Recursive watching with Linux inotify. Each directory gets its own watch (inotify is not
/// recursive); directories created later are watched as they appear, and files already inside
/// them by then are reported as changed, since their events came before the watch. Only what the
/// `PathFilter` accepts is reported. A symbolic link to a file is followed when its target lies
/// inside a watched root; links to directories are not descended (they would report files twice
/// and can form loops). When the kernel's watch limit runs out it warns once and lists the
/// directories it could not watch in `unwatched`, for the caller to poll.
public final class InotifyWatcher {
    private let fd: Int32
    private let logger: Logger
    public let filter: PathFilter
    /// The roots (canonical: no trailing slash, never nested).
    public private(set) var roots = RootSet()
    private var directories: [Int32: String] = [:]
    private var watchByPath: [String: Int32] = [:]
    private var warnedAboutLimit = false
    /// Directories that could not be watched (limit reached); poll them.
    public private(set) var unwatched: Set<String> = []

    static let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF)

    public init(filter: PathFilter = PathFilter(), logger: Logger) throws {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        self.filter = filter
        self.logger = logger
    }

    deinit { close(fd) }

    /// Watches `root` and every directory below it, and returns what they hold (so a caller
    /// adding a root, or rescanning one, can ingest the files, and knows what could not be read).
    @discardableResult
    public func add(root: CollectionPath) -> Listing {
        if !roots.covers(root) { roots.insert(root) }
        return scan(root.string)
    }

    /// Stops watching `root` and everything below it.
    public func remove(root: CollectionPath) {
        roots.remove(root)
        forget(directoryTree: root.string)
        unwatched = unwatched.filter { (try? CollectionPath($0))?.isWithin(root) != true }
    }

    /// The path below its root, or nil when `path` is under no root.
    private func relative(_ path: String) -> Substring? {
        guard let path = try? CollectionPath(path), let root = roots.root(containing: path) else { return nil }
        return path.relative(to: root)
    }

    /// Whether a file event or listing entry at `path` is reported.
    private func accepts(file path: String) -> Bool {
        guard let below = relative(path), filter.accepts(file: below) else { return false }
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK else { return true }
        // A link counts only when it resolves to a regular file inside a root.
        guard let resolved = realpath(path, nil) else { return false }
        defer { free(resolved) }
        let target = String(cString: resolved)
        return stat(target, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && relative(target) != nil
    }

    private func scan(_ top: String) -> Listing {
        var listing = Listing()
        var stack = [top]
        while let directory = stack.popLast() {
            watch(directory)
            let names: [String]
            switch Self.entries(of: directory) {
            case .failure(let error) where error.code == ENOENT || error.code == ENOTDIR:
                continue  // gone since it was seen: what was under it went with it
            case .failure(let error):
                logger.warning(
                    "cannot list directory; its items are kept",
                    metadata: ["path": "\(directory)", "error": "\(error.reason)"])
                listing.unlisted.append(Listing.Unlisted(directory: directory, reason: error.reason))
                continue
            case .success(let read):
                names = read.names
                for bad in read.undecodable {
                    logger.warning(
                        "skipping a name that is not valid UTF-8",
                        metadata: ["directory": "\(directory)", "name": "\(bad)"])
                    listing.skippedNames.append(directory + "/" + bad)
                }
            }
            for name in names.sorted() {
                let path = directory + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    if let relative = relative(path), filter.accepts(directory: relative) { stack.append(path) }
                case S_IFREG, S_IFLNK: if accepts(file: path) { listing.files.append(path) }
                default: continue
                }
            }
        }
        return listing
    }

    private struct ListingError: Error {
        let code: Int32
        var reason: String { String(cString: strerror(code)) }
    }

    /// A directory's entries with readdir, which (unlike FileManager) says when reading failed
    /// part-way and leaves invalid UTF-8 names for the caller to report.
    private static func entries(of directory: String) -> Result<(names: [String], undecodable: [String]), ListingError>
    {
        guard let handle = opendir(directory) else { return .failure(ListingError(code: errno)) }
        defer { closedir(handle) }
        var names: [String] = [], undecodable: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                if errno != 0 { return .failure(ListingError(code: errno)) }
                break
            }
            let name: String? = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let bytes = raw.prefix { $0 != 0 }
                if bytes.elementsEqual(".".utf8) || bytes.elementsEqual("..".utf8) { return nil }
                guard let decoded = String(validating: bytes, as: UTF8.self) else {
                    undecodable.append(String(decoding: bytes, as: UTF8.self))
                    return nil
                }
                return decoded
            }
            if let name { names.append(name) }
        }
        return .success((names, undecodable))
    }

    private func watch(_ directory: String) {
        let wd = inotify_add_watch(fd, directory, Self.mask)
        guard wd >= 0 else {
            if errno == ENOSPC {
                if !warnedAboutLimit {
                    logger.warning(
                        "inotify watch limit reached; polling the directories that could not be watched (raise fs.inotify.max_user_watches)"
                    )
                    warnedAboutLimit = true
                }
                unwatched.insert(directory)
            } else {
                logger.warning(
                    "cannot watch directory",
                    metadata: ["path": "\(directory)", "error": "\(String(cString: strerror(errno)))"])
            }
            return
        }
        directories[wd] = directory
        watchByPath[directory] = wd
        unwatched.remove(directory)
    }

    /// Lists the files under the directories that could not be watched (trying to watch them
    /// again), so the caller can ingest new and changed ones and drop vanished ones.
    public func pollUnwatched() -> [(directory: String, listing: Listing)] {
        let directories = unwatched.compactMap { try? CollectionPath($0) }.sorted()
        // The topmost only: a scan covers everything below it.
        let tops = directories.filter { directory in !directories.contains { directory.isStrictlyInside($0) } }
        return tops.map { ($0.string, scan($0.string)) }
    }

    /// Waits up to `timeout` seconds for events and returns them, renames paired.
    public func next(timeout: Double) -> [FileEvent] {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return [] }
        var events: [FileEvent] = []
        var movedFrom: [UInt32: String] = [:]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            guard n > 0 else { break }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= n {
                let (wd, mask, cookie, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, UInt32, Int) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, event.mask, event.cookie, Int(event.len))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                let nameBytes = buffer[nameStart..<min(n, nameStart + length)].prefix { $0 != 0 }
                guard let name = String(validating: nameBytes, as: UTF8.self) else {
                    offset = nameStart + length
                    logger.warning(
                        "skipping a name that is not valid UTF-8",
                        metadata: ["name": "\(String(decoding: nameBytes, as: UTF8.self))"])
                    continue
                }
                offset = nameStart + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    events.append(.overflow)
                    continue
                }
                guard let directory = directories[wd] else { continue }
                if mask & UInt32(IN_DELETE_SELF) != 0 || mask & UInt32(IN_IGNORED) != 0 {
                    directories[wd] = nil
                    watchByPath[directory] = nil
                    continue
                }
                guard !name.isEmpty else { continue }
                let path = directory + "/" + name
                let isDirectory = mask & UInt32(IN_ISDIR) != 0
                if isDirectory {
                    guard let relative = relative(path), filter.accepts(directory: relative) else { continue }
                } else if mask & UInt32(IN_DELETE | IN_MOVED_FROM) == 0 {
                    guard accepts(file: path) else { continue }
                } else {
                    // Gone already, so only the name can be judged.
                    guard let relative = relative(path), filter.accepts(file: relative) else { continue }
                }
                if mask & UInt32(IN_MOVED_FROM) != 0 {
                    movedFrom[cookie] = path
                } else if mask & UInt32(IN_MOVED_TO) != 0 {
                    if let from = movedFrom.removeValue(forKey: cookie) {
                        events.append(.renamed(from: from, to: path))
                        if isDirectory { rename(directory: from, to: path) }
                    } else if isDirectory {
                        events += scan(path).files.map(FileEvent.changed)
                    } else {
                        events.append(.changed(path))
                    }
                } else if mask & UInt32(IN_CREATE) != 0 {
                    if isDirectory {
                        events += scan(path).files.map(FileEvent.changed)
                    } else {
                        // A new symbolic link is complete when created (no close_write follows).
                        var info = stat()
                        if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK { events.append(.changed(path)) }
                    }
                } else if mask & UInt32(IN_CLOSE_WRITE) != 0 {
                    events.append(.changed(path))
                } else if mask & UInt32(IN_DELETE) != 0 {
                    events.append(.removed(path))
                }
            }
        }
        // A move out of the roots has no matching MOVED_TO.
        for (_, path) in movedFrom.sorted(by: { $0.key < $1.key }) {
            events.append(.removed(path))
            forget(directoryTree: path)
        }
        return events
    }

    /// Keeps the watch descriptors of a renamed directory tree pointing at its new paths.
    private func rename(directory from: String, to: String) {
        guard let from = try? CollectionPath(from), let to = try? CollectionPath(to) else { return }
        for (wd, path) in directories {
            guard let renamed = (try? CollectionPath(path))?.moved(from: from, to: to)?.string else { continue }
            directories[wd] = renamed
            watchByPath[path] = nil
            watchByPath[renamed] = wd
        }
    }

    private func forget(directoryTree path: String) {
        guard let top = try? CollectionPath(path) else { return }
        for (wd, directory) in directories where (try? CollectionPath(directory))?.isWithin(top) == true {
            inotify_rm_watch(fd, wd)
            directories[wd] = nil
            watchByPath[directory] = nil
        }
    }

    /// How many directories are watched.
    public var watchedDirectories: Int { directories.count }
}
