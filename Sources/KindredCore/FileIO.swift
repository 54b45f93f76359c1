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

    /// Flushes a file or a directory (its entries: a rename into it) to disk.
    public static func sync(_ path: String) throws(POSIXError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }
}
