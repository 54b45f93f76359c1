import Foundation

/// Whole-buffer reads and writes on a file descriptor: short transfers are continued and EINTR
/// retried, from the current position or, given an offset, with pread/pwrite.
public enum FileIO {
    /// Reads until `buffer` is full or the file ends. Returns the bytes read, or -1 on an error
    /// (errno set).
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int? = nil) -> Int {
        var done = 0
        while done < buffer.count {
            let want = min(buffer.count - done, 1 << 30)
            let n =
                offset.map { pread(fd, buffer.baseAddress! + done, want, off_t($0 + done)) }
                ?? Foundation.read(fd, buffer.baseAddress! + done, want)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return -1 }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `bytes`; false on an error (errno set).
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int? = nil) -> Bool {
        var done = 0
        while done < bytes.count {
            let want = min(bytes.count - done, 1 << 30)
            let n =
                offset.map { pwrite(fd, bytes.baseAddress! + done, want, off_t($0 + done)) }
                ?? Foundation.write(fd, bytes.baseAddress! + done, want)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Why `readWhole` read nothing: the path, and the errno or the limit.
    public struct ReadError: Error, CustomStringConvertible, Equatable {
        public enum Reason: Equatable, Sendable {
            case cannotOpen(errno: Int32)
            case readFailed(errno: Int32)
            case tooLarge(limit: Int)
        }
        public let path: String
        public let reason: Reason

        public init(path: String, reason: Reason) {
            self.path = path
            self.reason = reason
        }

        public var description: String {
            switch reason {
            case .cannotOpen(let code): "cannot open \(path): \(String(cString: strerror(code)))"
            case .readFailed(let code): "cannot read \(path): \(String(cString: strerror(code)))"
            case .tooLarge(let limit): "\(path) is larger than the \(limit) bytes such a file may be"
            }
        }
    }

    /// A whole file of at most `limit` bytes. Nothing larger is ever held: a regular file's size is
    /// checked before its buffer is made, and a file whose size `stat` cannot tell (a pipe, a
    /// device, one that grows while it is read) is read in steps and refused at `limit` + 1 bytes.
    /// The one way Kindred reads a whole file it did not just write (configuration, weights,
    /// state records), so each such read states its cap.
    public static func readWhole(_ path: String, limit: Int) throws(ReadError) -> [UInt8] {
        precondition(limit >= 0)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(path: path, reason: .cannotOpen(errno: errno)) }
        defer { close(fd) }
        var info = stat()
        let regular = fstat(fd, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
        if regular, Int(info.st_size) > limit { throw ReadError(path: path, reason: .tooLarge(limit: limit)) }
        // A regular file's stated size, plus one byte to see it did not grow; otherwise steps of 64 KiB.
        var bytes = [UInt8](repeating: 0, count: regular ? Int(info.st_size) + 1 : min(limit + 1, 64 << 10))
        var count = 0
        while true {
            let n = bytes.withUnsafeMutableBytes {
                read(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[count...]))
            }
            guard n >= 0 else { throw ReadError(path: path, reason: .readFailed(errno: errno)) }
            count += n
            if count > limit { throw ReadError(path: path, reason: .tooLarge(limit: limit)) }
            if count < bytes.count { break }  // the file ended before the buffer did
            bytes.append(contentsOf: repeatElement(0, count: min(limit + 1 - count, max(bytes.count, 64 << 10))))
        }
        bytes.removeSubrange(count...)
        return bytes
    }

    /// Flushes a file or a directory (its entries: a rename into it) to disk.
    public static func sync(_ path: String) throws(POSIXError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }
}
