import KindredCore
import Synchronization

/// The bytes one ingestion call is describing, by content hash, each claimed by the first of its
/// files to need decoding. A later file of the same call with the same bytes (a link or a copy
/// beside its target, prepared in the same chunk or alongside it) takes the claimer's vectors
/// instead of being decoded and run through the network again. A claim is dropped when its
/// claimer's chunk commits: from then on the catalog finds the described item, or, when the
/// claimer failed, the claims keep its reason for the rest of the call, so a twin in a later
/// chunk takes the failure without reading the bytes again.
final class ContentClaims: Sendable {
    private struct State {
        var holders: [String: ItemID] = [:]
        var failures: [String: String] = [:]
    }

    private let state = Mutex(State())

    /// Claims `hash` for `id`: nil when the claim is `id`'s (new, or its own already), else the
    /// item that holds it.
    func claim(_ hash: String, for id: ItemID) -> ItemID? {
        state.withLock { state in
            if let holder = state.holders[hash], holder != id { return holder }
            state.holders[hash] = id
            return nil
        }
    }

    /// The item that holds `hash`'s claim: it is still being described.
    func holder(of hash: String) -> ItemID? { state.withLock { $0.holders[hash] } }

    /// Why the claimer of `hash` failed, when one did in this call.
    func failure(of hash: String) -> String? { state.withLock { $0.failures[hash] } }

    /// Drops the claims these items hold, keeping the reason of each that failed; a hash another
    /// item holds stays claimed.
    func release(_ held: [(hash: String, id: ItemID, failure: String?)]) {
        state.withLock { state in
            for (hash, id, failure) in held where state.holders[hash] == id {
                state.holders[hash] = nil
                if let failure, !hash.isEmpty { state.failures[hash] = failure }
            }
        }
    }
}
