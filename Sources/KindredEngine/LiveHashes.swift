import Dispatch
import Foundation
import KindredCore
import KindredFeatures
import KindredIndex
import KindredStore
import Logging
import Synchronization

/// Every item's perceptual hash, held in memory and kept in step with the store as the indexes
/// are (`LiveIndexes` starts loading it when it opens them, and changes it where it changes them).
/// Why: a fused SIMILAR compares the hashes of its 64 candidates, and reading them from LMDB cost a
/// B-tree descent each, about a microsecond apiece, a tenth of a fused query's CPU (RESULTS.md,
/// "The fused ranking's reads from memory"). 8 bytes an item plus the table's own: about 32 MB
/// at a million items.
public final class LiveHashes: Sendable {
    private struct Table {
        var hashes: LabelTable<UInt64>
        /// While the store's hashes load: the changes made since the load began, in order (nil
        /// for a removal), replayed over what it read.
        var changes: [(label: UInt64, hash: UInt64?)]?
    }

    private let table: Mutex<Table>
    private let loading = DispatchGroup()

    public init(_ hashes: LabelTable<UInt64> = [:]) {
        table = Mutex(Table(hashes: hashes, changes: nil))
    }

    /// Starts reading the store's hashes on a thread of its own and returns at once; until the
    /// read ends, a hash not held yet is read from the store by whoever needs it. At a million
    /// items the read (one cursor pass over 8-byte records, and the table's inserts) took 0.3 s,
    /// which a restart would otherwise wait for (RESULTS.md). A read that fails leaves the
    /// hashes to the store, and says so in the log.
    static func loading(from store: VectorStore, logger: Logger) -> LiveHashes {
        loading(logger: logger) { try read(store) }
    }

    /// `loading`, with the hashes `reader` gives (a test holds it back to make changes meanwhile).
    static func loading(
        logger: Logger, _ reader: @escaping @Sendable () throws -> LabelTable<UInt64>
    ) -> LiveHashes {
        let hashes = LiveHashes()
        hashes.table.withLock { $0.changes = [] }
        hashes.loading.enter()
        Thread.detachNewThread {
            defer { hashes.loading.leave() }
            var read: LabelTable<UInt64>
            do { read = try reader() } catch {
                logger.warning(
                    "perceptual hashes not held in memory; fused queries read them from the store",
                    metadata: ["reason": "\(error)"])
                read = LabelTable()
            }
            // Changed in place and handed over, never copied: a million entries copied under the
            // lock (here, or at the next change while `read` still shared them) would hold up
            // every fused query meanwhile.
            hashes.table.withLock { table in
                for change in table.changes ?? [] { read[change.label] = change.hash }
                table = Table(hashes: read, changes: nil)
                read = LabelTable()
            }
        }
        return hashes
    }

    private static func read(_ store: VectorStore) throws -> LabelTable<UInt64> {
        let (ids, words) = try store.perceptualHashes()
        return LabelTable(zip(ids.lazy.map(\.rawValue), words))
    }

    /// Returns once the store's hashes are loaded (at once for a table not loading).
    public func waitUntilLoaded() { loading.wait() }

    public var count: Int { table.withLock { $0.hashes.count } }

    /// Each label's hash, in the order asked; nil for one not held.
    public func hashes(of labels: [UInt64]) -> [UInt64?] {
        table.withLock { $0.hashes.values(of: labels) }
    }

    /// Holds `hash` (a stored pHash's 8 bytes) for `label`; anything else removes what was held,
    /// so a reader falls back to the store.
    func set(_ hash: [UInt8], label: UInt64) {
        change(label, to: PerceptualHash.word(hash))
    }

    func remove(label: UInt64) {
        change(label, to: nil)
    }

    private func change(_ label: UInt64, to hash: UInt64?) {
        table.withLock { table in
            table.hashes[label] = hash
            table.changes?.append((label, hash))
        }
    }
}

extension VectorStore {
    /// Every stored perceptual hash as its 64-bit word, in id order (one cursor pass): what the
    /// held hashes load and DUPLICATES compares.
    func perceptualHashes() throws -> (ids: [ItemID], hashes: [UInt64]) {
        let (ids, bytes) = try readAll(space: StandardSpaces.phash.name, as: UInt8.self)
        // The space's dimension is 8, so every record gives a word.
        return (ids, ids.indices.map { i in PerceptualHash.word(bytes[(i * 8)..<(i * 8 + 8)])! })
    }
}
