import Foundation
import KindredCore

/// An image file read whole into memory, once: the one place a file's size is checked against
/// `DecodeOptions.maxFileBytes` before its bytes are held, so no file in a watched folder can
/// make a process allocate more than that. Read whole rather than mapped: a mapped file that a
/// careless user truncates would kill the process with SIGBUS. Files of 2 MB and more are read
/// into huge pages (`HugePages`): a 600 MB TIFF faulted 150,000 ordinary pages in, at several
/// microseconds each on a virtual machine. The file stays open, so a decoder child
/// (`DecoderProcess`) reads it itself instead of being handed a copy.
public final class ImageFile {
    public let path: String
    /// The file's bytes, as read.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(storage) }
    private let storage: UnsafeMutableRawBufferPointer
    private let descriptor: Int32

    public init(path: String, options: DecodeOptions) throws(ImageError) {
        self.path = path
        // O_NONBLOCK: a FIFO swapped in for a file must not block the open (regular files ignore it).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw ImageError(path: path, kind: .unreadable, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ImageError(path: path, kind: .unreadable, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size <= options.maxFileBytes else {
            close(fd)
            throw ImageError(
                path: path, kind: .tooLarge,
                reason: "file of \(size) bytes exceeds the \(options.maxFileBytes >> 20) MiB limit")
        }
        guard let storage = HugePages.allocateBytes(size) else {
            close(fd)
            throw ImageError(path: path, kind: .tooLarge, reason: "cannot hold the file's \(size) bytes in memory")
        }
        let read = FileIO.read(fd, into: storage)
        guard read == size else {
            let reason =
                read < 0
                ? "read failed: \(String(cString: strerror(errno)))" : "read failed after \(read) bytes: file shrank"
            HugePages.deallocate(storage)
            close(fd)
            throw ImageError(path: path, kind: .unreadable, reason: reason)
        }
        self.storage = storage
        descriptor = fd
    }

    deinit {
        HugePages.deallocate(storage)
        close(descriptor)
    }

    /// The picture, as `ImageDecoder.decode` gives it; a decoder child reads the open file. The
    /// time it took goes to `clock`, the resampler's share as `resample`, the rest as `decode`.
    public func decode(options: DecodeOptions, clock: StageClock? = nil) throws(ImageError) -> DecodedImage {
        let begun = ContinuousClock.now
        let decoded: DecodedImage
        do {
            decoded = try ImageDecoder.decode(bytes, path: path, options: options, source: descriptor)
        } catch {
            clock?.add(.decode, ContinuousClock.now - begun)
            throw error
        }
        clock?.add(.decode, ContinuousClock.now - begun - decoded.resampleTime)
        clock?.add(.resample, decoded.resampleTime)
        return decoded
    }
}
