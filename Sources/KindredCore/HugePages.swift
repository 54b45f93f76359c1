import Glibc

/// Buffers backed by 2 MB pages where the kernel grants them. Linux backs an aligned region with
/// huge pages when asked (`MADV_HUGEPAGE`) even where transparent huge pages are set to
/// "madvise" only, as Debian sets them; where it cannot, the buffer is an ordinary one. Two uses:
/// - The CNN's weights and activations, streamed on every image: with 4 KB pages its 18 MB of
///   weights span 4,600 pages, more than Zen 4's 3,072-entry second-level TLB, and a 1×1 kernel
///   reads its weights down a column, a new page every row or two.
/// - A file's bytes in the decoder child: filling hundreds of megabytes page-faults once per
///   4 KB page otherwise (0.9 s of system time for a 372 MB TIFF).
public enum HugePages {
    public static let size = 2 << 20

    /// `count` floats, uninitialised, on a huge-page boundary. Freed by `deallocate`.
    public static func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        guard let raw = allocateBytes(count * MemoryLayout<Float>.stride) else {
            fatalError("out of memory for \(count) floats")
        }
        return UnsafeMutableBufferPointer(
            start: raw.baseAddress!.bindMemory(to: Float.self, capacity: count), count: count)
    }

    /// `count` bytes, uninitialised, on a huge-page boundary when they fill one or more, or nil
    /// when they cannot be had. Freed by `deallocate`.
    public static func allocateBytes(_ count: Int) -> UnsafeMutableRawBufferPointer? {
        guard count >= size else {  // less than a huge page: an ordinary allocation
            guard let raw = malloc(max(count, 1)) else { return nil }
            return UnsafeMutableRawBufferPointer(start: raw, count: count)
        }
        let bytes = (count + size - 1) / size * size
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, size, bytes) == 0, let raw else { return nil }
        _ = madvise(raw, bytes, MADV_HUGEPAGE)  // advice only: refused, the pages are ordinary ones
        return UnsafeMutableRawBufferPointer(start: raw, count: count)
    }

    public static func deallocate(_ buffer: UnsafeMutableBufferPointer<Float>) { free(buffer.baseAddress) }
    public static func deallocate(_ pointer: UnsafeMutablePointer<Float>) { free(pointer) }
    public static func deallocate(_ buffer: UnsafeMutableRawBufferPointer) { free(buffer.baseAddress) }
}
