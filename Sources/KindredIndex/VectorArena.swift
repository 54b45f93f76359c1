import Glibc

/// Where an index keeps its vectors: one range of address space reserved up front (16 GiB, or
/// what the first capacity needs if more) with `MAP_NORESERVE`, whose pages the kernel commits,
/// zero-filled, only when first written. Growing the index within the reservation therefore
/// moves nothing: before this, doubling a 100k × 1280 index copied and zeroed 1 GB under the
/// exclusive lock, and every search waited 1.3 s for it. Beyond the reservation (over 3 million
/// 1280-d vectors) the arena is replaced by a bigger one and copied, as before.
final class VectorArena {
    let base: UnsafeMutablePointer<Float>
    /// Floats the reservation holds.
    let capacity: Int
    private let bytes: Int
    private let mapped: Bool

    init(floats needed: Int) {
        let reserve = max(needed, 1 << 32)
        let length = reserve * MemoryLayout<Float>.stride
        let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if let address, address != MAP_FAILED {
            base = address.bindMemory(to: Float.self, capacity: reserve)
            capacity = reserve
            bytes = length
            mapped = true
        } else {
            // No address space to spare (a tight RLIMIT_AS): an ordinary, exactly sized block.
            base = .allocate(capacity: max(needed, 1))
            base.initialize(repeating: 0, count: max(needed, 1))
            capacity = max(needed, 1)
            bytes = 0
            mapped = false
        }
    }

    deinit {
        if mapped { munmap(base, bytes) } else { base.deallocate() }
    }
}
