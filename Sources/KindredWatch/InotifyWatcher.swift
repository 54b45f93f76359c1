import Foundation
import Glibc
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

/// Recursive watching with Linux inotify. Each directory gets its own watch (inotify is not
/// recursive); directories created later are watched as they appear, and files already inside
/// them by then are reported as changed, since their events came before the watch. Hidden files
/// and directories are ignored. When the kernel's watch limit runs out it warns once and lists the
/// directories it could not watch in `unwatched`, for the caller to poll.
public final class InotifyWatcher {
    private let fd: Int32
    private let logger: Logger
    private var directories: [Int32: String] = [:]
    private var watchByPath: [String: Int32] = [:]
    private var warnedAboutLimit = false
    /// Directories that could not be watched (limit reached); poll them.
    public private(set) var unwatched: Set<String> = []

    static let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF)

    public init(logger: Logger) throws {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        self.logger = logger
    }

    deinit { close(fd) }

    /// Watches `root` and every directory below it; returns the files found in directories that
    /// were not watched before (so a caller adding a new root can ingest them).
    @discardableResult
    public func add(root: String) -> [String] {
        var files: [String] = []
        var stack = [root]
        while let directory = stack.popLast() {
            watch(directory)
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in entries.sorted() where !name.hasPrefix(".") {
                let path = directory + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: stack.append(path)
                case S_IFREG: files.append(path)
                default: continue  // symlinks are not followed out of the roots
                }
            }
        }
        return files
    }

    private func watch(_ directory: String) {
        let wd = inotify_add_watch(fd, directory, Self.mask)
        guard wd >= 0 else {
            if errno == ENOSPC {
                if !warnedAboutLimit {
                    logger.warning("inotify watch limit reached; polling the directories that could not be watched (raise fs.inotify.max_user_watches)")
                    warnedAboutLimit = true
                }
                unwatched.insert(directory)
            } else {
                logger.warning("cannot watch directory", metadata: ["path": "\(directory)", "error": "\(String(cString: strerror(errno)))"])
            }
            return
        }
        directories[wd] = directory
        watchByPath[directory] = wd
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
                let name = String(decoding: nameBytes, as: UTF8.self)
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
                guard !name.isEmpty, !name.hasPrefix(".") else { continue }
                let path = directory + "/" + name
                let isDirectory = mask & UInt32(IN_ISDIR) != 0
                if mask & UInt32(IN_MOVED_FROM) != 0 {
                    movedFrom[cookie] = path
                } else if mask & UInt32(IN_MOVED_TO) != 0 {
                    if let from = movedFrom.removeValue(forKey: cookie) {
                        events.append(.renamed(from: from, to: path))
                        if isDirectory { rename(directory: from, to: path) }
                    } else if isDirectory {
                        events += add(root: path).map(FileEvent.changed)
                    } else {
                        events.append(.changed(path))
                    }
                } else if mask & UInt32(IN_CREATE) != 0 {
                    if isDirectory { events += add(root: path).map(FileEvent.changed) }
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
        for (wd, path) in directories where path == from || path.hasPrefix(from + "/") {
            let renamed = to + path.dropFirst(from.count)
            directories[wd] = renamed
            watchByPath[path] = nil
            watchByPath[renamed] = wd
        }
    }

    private func forget(directoryTree path: String) {
        for (wd, directory) in directories where directory == path || directory.hasPrefix(path + "/") {
            inotify_rm_watch(fd, wd)
            directories[wd] = nil
            watchByPath[directory] = nil
        }
    }

    /// How many directories are watched.
    public var watchedDirectories: Int { directories.count }
}
