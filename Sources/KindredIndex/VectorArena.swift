import Glibc

/// Where an index keeps its rows (vectors or their codes): one range of address space reserved up
/// front (16 GiB, or what the first capacity needs if more) with `MAP_NORESERVE`, whose pages the
/// kernel commits, zero-filled, only when first written. Growing the index within the reservation
/// therefore moves nothing: before this, doubling a 100k × 1280 index copied and zeroed 1 GB under
/// the exclusive lock, and every search waited 1.3 s for it. Beyond the reservation (over 3 million
/// 1280-d float rows, 12 million int8 ones) the arena is replaced by a bigger one and copied.
final class VectorArena {
    let base: UnsafeMutableRawPointer
    /// Bytes the reservation holds.
    let capacity: Int
    private let mapped: Bool

    init(bytes needed: Int) {
        let reserve = max(needed, 1 << 34)
        let address = mmap(nil, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if let address, address != MAP_FAILED {
            // Huge pages where the kernel offers them (transparent_hugepage "madvise" or
            // "always"): a walk touches rows all over a gigabyte of codes, one TLB entry then
            // covers 2 MiB instead of 4 KiB, and loading a snapshot faults a 2 MiB page at a
            // time. Only advice: refused, the arena works as before.
            _ = madvise(address, reserve, MADV_HUGEPAGE)
            base = address
            capacity = reserve
            mapped = true
        } else {
            // No address space to spare (a tight RLIMIT_AS): an ordinary, exactly sized block.
            base = .allocate(byteCount: max(needed, 64), alignment: 64)
            base.initializeMemory(as: UInt8.self, repeating: 0, count: max(needed, 64))
            capacity = max(needed, 64)
            mapped = false
        }
    }

    deinit {
        if mapped { munmap(base, capacity) } else { base.deallocate() }
    }
}
