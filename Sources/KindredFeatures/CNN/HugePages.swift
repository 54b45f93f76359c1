import Glibc

/// Float buffers the CNN streams through on every image (its 18 MB of weights, its activations),
/// backed by 2 MB pages where the kernel grants them. With 4 KB pages the weights alone span 4,600
/// pages, more than Zen 4's 3,072-entry second-level TLB, and a 1×1 kernel reads its weights
/// down a column, one page every row or two, so every layer paid a page walk per few weight loads.
/// Linux backs an aligned region with huge pages when asked (`MADV_HUGEPAGE`) even where
/// transparent huge pages are set to "madvise" only, as Debian sets them; where it cannot, the
/// buffer is an ordinary one.
enum HugePages {
    static let size = 2 << 20

    /// `count` floats, uninitialised, on a huge-page boundary.
    static func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let bytes = (max(count, 1) * MemoryLayout<Float>.stride + size - 1) / size * size
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, size, bytes) == 0, let raw else { fatalError("out of memory for \(bytes) bytes") }
        _ = madvise(raw, bytes, MADV_HUGEPAGE)  // advice only: refused, the pages are ordinary ones
        return UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: count), count: count)
    }

    static func deallocate(_ buffer: UnsafeMutableBufferPointer<Float>) { free(buffer.baseAddress) }
    static func deallocate(_ pointer: UnsafeMutablePointer<Float>) { free(pointer) }
}
