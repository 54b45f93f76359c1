import KindredCore
import Synchronization

/// The bytes one ingestion call is describing, by content hash, each claimed by the first of its
/// files to need decoding. A later file of the same call with the same bytes (a link or a copy
/// beside its target, prepared in the same chunk or alongside it) takes the claimer's vectors
/// instead of being decoded and run through the network again. A claim is dropped when its
/// claimer's chunk commits: from then on the catalog finds the described item.
final class ContentClaims: Sendable {
    private let holders = Mutex<[String: ItemID]>([:])

    /// Claims `hash` for `id`: nil when the claim is `id`'s (new, or its own already), else the
    /// item that holds it.
    func claim(_ hash: String, for id: ItemID) -> ItemID? {
        holders.withLock { holders in
            if let holder = holders[hash], holder != id { return holder }
            holders[hash] = id
            return nil
        }
    }

    /// The item that holds `hash`'s claim: it is still being described.
    func holder(of hash: String) -> ItemID? { holders.withLock { $0[hash] } }

    /// Drops the claims these items hold; a hash another item holds stays claimed.
    func release(_ held: [(hash: String, id: ItemID)]) {
        holders.withLock { holders in
            for (hash, id) in held where holders[hash] == id { holders[hash] = nil }
        }
    }
}
