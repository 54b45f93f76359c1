import Foundation
import KindredCore
import KindredEngine
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredProtocol
import KindredStore

// The collection's roots and state: RESCAN, WATCH, UNWATCH and BACKUP, handed to the ingestion
// thread (admin verbs: AccessPolicy).

extension CommandService {
    func requireControl(_ verb: String) throws -> WatchLoop {
        _ = try requireIndexes()
        guard let control = live.withLock({ $0?.control }) else {
            throw ProtocolError(.unavailable, "\(verb) needs the ingestion thread, which this server does not run")
        }
        return control
    }

    func rescan(_ directory: String?) throws -> Response {
        let control = try requireControl("RESCAN")
        let roots = try catalog.rootSet()
        guard let directory else {
            control.submit(.rescan(nil))
            return Response(columns: ["rescanning"], rows: roots.roots.map { [$0.string] })
        }
        let path = try CollectionPath.resolvingDirectory(directory)
        guard roots.covers(path) else { throw ProtocolError(.forbidden, "\(path) is outside the watched roots") }
        control.submit(.rescan(path))
        return Response(columns: ["rescanning"], rows: [[path.string]])
    }

    func watch(_ directory: String) throws -> Response {
        let control = try requireControl("WATCH")
        // Refused by name before the file system is asked anything, then again once resolved (a
        // symbolic link may lead out of the allowed directories).
        let roots = try catalog.rootSet()
        try roots.validateNew(try CollectionPath(directory), allowedPrefixes: policy.watchPrefixes)
        let path = try CollectionPath.resolvingDirectory(directory)
        try roots.validateNew(path, allowedPrefixes: policy.watchPrefixes)
        if roots.roots.contains(path) { return Response(columns: ["watching"], rows: [[path.string]]) }
        try catalog.addRoot(path, device: path.device)
        control.submit(.watch(path))
        logger.info("watching", metadata: ["root": "\(path)"])
        return Response(columns: ["watching"], rows: [[path.string]])
    }

    func unwatch(_ directory: String) throws -> Response {
        let control = try requireControl("UNWATCH")
        // The directory may be gone already, so match the name as given as well as resolved.
        let roots = try catalog.rootSet()
        let named = try CollectionPath(directory)
        guard
            let root = roots.roots.first(where: { $0 == named })
                ?? (try? CollectionPath.resolvingDirectory(directory)).flatMap({ resolved in
                    roots.roots.first { $0 == resolved }
                })
        else {
            throw ProtocolError(
                .notFound,
                "\(directory) is not a watched root (roots: \(roots.roots.map(\.string).joined(separator: ", ")))")
        }
        let items = try catalog.itemIDs(under: root).count
        try catalog.removeRoot(root)
        control.submit(.unwatch(root))
        logger.info("unwatched", metadata: ["root": "\(root)", "items": "\(items)"])
        return Response(columns: ["unwatched", "items_removed"], rows: [[root.string, String(items)]])
    }

    /// BACKUP: the ingestion thread copies the state between batches; this waits for its rows.
    func backup(_ directory: String) throws -> Response {
        let control = try requireControl("BACKUP")
        let reply = Handover<Result<[[String]], any Error>>()
        control.submit(.backup(try CollectionPath(directory), reply: reply))
        switch reply.wait() {
        case .success(let rows): return Response(columns: ["part", "bytes"], rows: rows)
        case .failure(let error): throw ProtocolError(.badRequest, "backup to \(directory) failed: \(error)")
        }
    }
}
