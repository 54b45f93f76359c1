import KindredCore
import KindredFeatures
import KindredStore
import Synchronization

/// Every item's perceptual hash, held in memory and kept in step with the store as the indexes
/// are (`LiveIndexes` loads it with them and changes it with them). Why: a fused SIMILAR compares
/// the hashes of its 64 candidates, and reading them from LMDB cost a B-tree descent each, about
/// a microsecond apiece, a tenth of a fused query's CPU (RESULTS.md, "The fused ranking's reads
/// from memory"). 8 bytes an item plus the table's own: tens of megabytes at a million.
public final class LiveHashes: Sendable {
    private let table: Mutex<[UInt64: UInt64]>

    public init(_ table: [UInt64: UInt64] = [:]) {
        self.table = Mutex(table)
    }

    /// The store's hashes (one cursor pass over a space of 8-byte records).
    static func load(from store: VectorStore) throws -> LiveHashes {
        let (ids, bytes) = try store.readAll(space: StandardSpaces.phash.name, as: UInt8.self)
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() {
            // The space's dimension is 8, so every record gives a word.
            if let word = PerceptualHash.word(bytes[(i * 8)..<(i * 8 + 8)]) { table[id.rawValue] = word }
        }
        return LiveHashes(table)
    }

    public var count: Int { table.withLock { $0.count } }

    /// Each label's hash, in the order asked; nil for one not held.
    public func hashes(of labels: [UInt64]) -> [UInt64?] {
        table.withLock { table in labels.map { table[$0] } }
    }

    /// Holds `hash` (a stored pHash's 8 bytes) for `label`; anything else removes what was held,
    /// so a reader falls back to the store.
    func set(_ hash: [UInt8], label: UInt64) {
        let word = PerceptualHash.word(hash)
        table.withLock { $0[label] = word }
    }

    func remove(label: UInt64) {
        _ = table.withLock { $0.removeValue(forKey: label) }
    }
}
