import Foundation
import KindredCore
import KindredEngine
import KindredProtocol

/// Who is asking: the peer's process, user and group as the kernel gave them (SO_PEERCRED), which
/// a client cannot forge. The same credentials a client reads of kindredd (`SocketClient.peer`).
public typealias Peer = PeerCredentials

/// Who may do what: the one owner of authorization (Schema/protocol.md, "Who may ask"). Anyone who
/// can open the socket may use the read verbs; the admin verbs (`Verb.requiresAdmin`) need a peer
/// whose uid is kindredd's own, root's or configured, or whose primary or supplementary groups
/// include a configured group. WATCH is further limited to the allowed prefixes.
public struct AccessPolicy: Sendable {
    public var adminUIDs: Set<UInt32>
    public var adminGIDs: Set<UInt32>
    public var watchPrefixes: [CollectionPath]

    /// kindredd's own user and root are always admins.
    public init(adminUIDs: [UInt32] = [], adminGIDs: [UInt32] = [], watchPrefixes: [CollectionPath] = []) {
        self.adminUIDs = Set(adminUIDs + [getuid(), 0])
        self.adminGIDs = Set(adminGIDs)
        self.watchPrefixes = watchPrefixes
    }

    public init(_ configuration: Configuration) {
        self.init(
            adminUIDs: configuration.adminUIDs.map { UInt32($0) },
            adminGIDs: configuration.adminGroups.compactMap { getgrnam($0)?.pointee.gr_gid },
            watchPrefixes: configuration.allowedPrefixes.compactMap { try? CollectionPath($0) })
    }

    /// Refuses `request` to `peer` when it is an admin verb and the peer is not an admin. A peer
    /// whose credentials could not be read is not an admin.
    public func authorize(_ request: Request, peer: Peer?) throws(ProtocolError) {
        guard request.verb.requiresAdmin else { return }
        guard let peer else {
            throw ProtocolError(
                .forbidden, "\(request.verb.rawValue) is an admin verb and the peer's credentials are unknown")
        }
        guard isAdmin(peer) else {
            throw ProtocolError(
                .forbidden,
                "\(request.verb.rawValue) is an admin verb; uid \(peer.uid) is not allowed it (protocol.admin_uids, protocol.admin_groups)"
            )
        }
    }

    public func isAdmin(_ peer: Peer) -> Bool {
        if adminUIDs.contains(peer.uid) || adminGIDs.contains(peer.gid) { return true }
        guard !adminGIDs.isEmpty else { return false }
        return !adminGIDs.isDisjoint(with: Self.groups(ofUID: peer.uid, primary: peer.gid))
    }

    /// The supplementary groups of a user, from the group database (SO_PEERCRED carries only the
    /// primary group).
    static func groups(ofUID uid: UInt32, primary: UInt32) -> Set<UInt32> {
        var record = passwd(), result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwuid_r(uid, &record, &buffer, buffer.count, &result) == 0, result != nil, let name = record.pw_name
        else { return [] }
        var count: Int32 = 256
        var groups = [gid_t](repeating: 0, count: Int(count))
        guard getgrouplist(name, primary, &groups, &count) >= 0 else { return [] }
        return Set(groups.prefix(Int(count)))
    }
}
