import CXXHash
import KindredCore

/// The checksum a snapshot carries over everything after its header, by format version: XXH3-64
/// (libxxhash) from version 3, `Checksum` before it.
///
/// Why two: a restart reads the snapshots from the page cache at memory speed, and `Checksum`'s
/// single dependent lane does about a byte a cycle. On a 2 GHz Zen 1 it was 13.5 % of a million-item
/// restart's CPU samples (`perf`, Benchmarks/RESULTS.md "Restarting a million items"); with XXH3,
/// which runs independent lanes in SIMD registers, the 1.6 GB CNN snapshot loads 0.45–0.75 s
/// sooner. Files of versions 1 and 2 are still verified the way they were written.
public final class SnapshotChecksum {
    private var legacy: Checksum?
    private let state: OpaquePointer?

    /// For a file of `formatVersion` (the header's field).
    public init(formatVersion: Int) {
        if formatVersion >= 3 {
            // Only an allocation of XXH3's ~600-byte state can fail; the precondition says so
            // rather than verifying nothing.
            guard let state = XXH3_createState(), XXH3_64bits_reset(state) == XXH_OK else {
                preconditionFailure("XXH3_createState failed (out of memory)")
            }
            self.state = state
            legacy = nil
        } else {
            state = nil
            legacy = Checksum()
        }
    }

    deinit { if let state { XXH3_freeState(state) } }

    /// Adds bytes. Any split gives the same value as one call over their concatenation, as long as
    /// a version 1–2 file's pieces are multiples of 8 bytes except each section's last (how
    /// `Checksum` was fed when those files were written).
    public func update(_ bytes: UnsafeRawBufferPointer) {
        if let state {
            _ = XXH3_64bits_update(state, bytes.baseAddress, bytes.count)
        } else {
            legacy!.update(bytes)
        }
    }

    public var value: UInt64 {
        if let state { return XXH3_64bits_digest(state) }
        return legacy!.value
    }
}
