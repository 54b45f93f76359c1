import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One writer per state directory: kindredd for as long as it runs, or a `kindred store` command
/// while it changes the store. Two writers would each keep their own index, ingestion thread and
/// snapshots over one catalog and one store (a second kindredd also took the first one's socket
/// path, so the first went on writing with no one able to reach it).
///
/// An advisory lock (`flock`) on `writer.lock` in the state directory, taken before anything in it
/// is opened and held until the lock is released or the process ends: the kernel drops it with the
/// last descriptor, so a holder that crashed leaves no stale lock to clean up. Readers (`kindred
/// map`, `report`, `export --state`) take none: SQLite's WAL and LMDB serve them beside the writer.
public final class StateLock: Sendable {
    /// The lock file.
    public let url: URL
    private let descriptor: Int32

    private init(url: URL, descriptor: Int32) {
        self.url = url
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Takes the state directory for this process, creating it (mode 0750) if need be; `holder`
    /// names this program in the file, for the message a second writer gets. Throws, without
    /// waiting, when another process holds it.
    public static func acquire(_ paths: StatePaths, holder: String) throws(StateLockError) -> StateLock {
        let url = paths.writerLock
        do { try paths.create() } catch {
            throw StateLockError(url: url, reason: "cannot create its directory: \(error)")
        }
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard descriptor >= 0 else {
            throw StateLockError(url: url, reason: "cannot open it: \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            let holderLine = failure == EWOULDBLOCK ? Self.holder(descriptor) : nil
            close(descriptor)
            guard failure == EWOULDBLOCK else {
                throw StateLockError(url: url, reason: "cannot lock it: \(String(cString: strerror(failure)))")
            }
            throw StateLockError(
                url: url,
                reason:
                    "another process writes this state directory\(holderLine.map { " (\($0))" } ?? ""); stop it first",
                isHeld: true)
        }
        // Who holds it, for the message another writer gets (the lock, not this text, is what counts).
        let line = "\(holder), pid \(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = line.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return StateLock(url: url, descriptor: descriptor)
    }

    /// The holder's line from the lock file: at most 128 bytes of its first line, shown with any
    /// control character written out (the file is in a directory others may write).
    private static func holder(_ descriptor: Int32) -> String? {
        var bytes = [UInt8](repeating: 0, count: 128)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let line = bytes[..<count].prefix { $0 != UInt8(ascii: "\n") }
        let text = DisplayText.visible(String(decoding: line, as: UTF8.self))
        return text.isEmpty ? nil : text
    }
}

/// The state directory could not be taken for writing.
public struct StateLockError: Error, CustomStringConvertible {
    public let url: URL
    public let reason: String
    /// Whether another process holds the lock (rather than the file being unusable).
    public let isHeld: Bool

    init(url: URL, reason: String, isHeld: Bool = false) {
        self.url = url
        self.reason = reason
        self.isHeld = isHeld
    }

    public var description: String {
        "\(url.deletingLastPathComponent().path): \(reason) (lock \(url.lastPathComponent))"
    }
}
