import Foundation
import KindredCore
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredProtocol
import KindredStore
import Logging
import Synchronization

/// Answers parsed requests from the catalog, the store and the live index. Connection state
/// (`FORMAT`, `QUIT`) belongs to the connection handler, not here.
public final class CommandService: Sendable {
    let catalog: Catalog
    let store: VectorStore
    let logger: Logger
    let started = Date()
    /// What the ingestion thread reports, for STATUS.
    public let progress: IngestProgress
    /// Candidate-list size for searches; raised to 2·k when k is larger.
    let efSearch: Int
    /// The network for queries by image; separate from ingestion's, which another thread owns.
    let network: Mutex<EfficientNetLite0?>
    /// Who may use the admin verbs, and where WATCH may add roots.
    public let policy: AccessPolicy
    /// The size rules for images sent with SIMILAR-IMAGE: the same as for the collection's files.
    let decodeOptions: DecodeOptions

    /// The indexes, and the ingestion thread that RESCAN, WATCH and UNWATCH are handed to. The
    /// socket answers before they exist (building indexes for a large collection without a
    /// snapshot takes minutes), so queries that need them answer `unavailable` until `attach`.
    private let live = Mutex<Live?>(nil)

    struct Live: Sendable {
        var indexes: LiveIndexes
        /// nil when no ingestion thread runs (tests of the query side).
        var control: WatchLoop?
        var refits: RefitScheduler?
    }

    public init(catalog: Catalog, store: VectorStore, indexes: LiveIndexes? = nil, network: sending EfficientNetLite0? = nil,
                progress: IngestProgress = IngestProgress(), control: WatchLoop? = nil, efSearch: Int = 64,
                policy: AccessPolicy = AccessPolicy(), decodeOptions: DecodeOptions = DecodeOptions(), logger: Logger) {
        self.policy = policy
        self.decodeOptions = decodeOptions
        self.catalog = catalog
        self.store = store
        self.network = Mutex(network)
        self.progress = progress
        self.efSearch = efSearch
        self.logger = logger
        if let indexes { attach(indexes: indexes, control: control) }
    }

    /// Makes the indexes (and the ingestion thread) available to requests.
    public func attach(indexes: LiveIndexes, control: WatchLoop?, refits: RefitScheduler? = nil) {
        live.withLock { $0 = Live(indexes: indexes, control: control, refits: refits) }
    }

    /// REFIT: starts a refit; with `wait`, `completion` hears the finished run (from the refit's
    /// thread), otherwise at once that it is queued.
    public func refit(wait: Bool, completion: @escaping @Sendable (Result<Response, ProtocolError>) -> Void) {
        guard let refits = live.withLock({ $0?.refits }) else {
            return completion(.failure(ProtocolError(.unavailable, "refits need the index, which is still loading")))
        }
        guard wait else {
            refits.request()
            return completion(.success(Response(columns: ["refit"], rows: [[refits.isRunning ? "queued behind the running refit" : "started"]])))
        }
        refits.request { outcome in
            switch outcome {
            case .success(let report):
                completion(.success(Response(columns: ["key", "value"], rows: [
                    ["run", String(report.run)], ["items", String(report.items)], ["clusters", String(report.clusters)],
                    ["noise_fraction", String(format: "%.4f", report.noiseFraction)], ["silhouette", report.silhouette.map { String(format: "%.4f", $0) } ?? ""],
                    ["new_clusters", String(report.born)], ["vanished_clusters", String(report.vanished)], ["seconds", String(report.seconds)],
                ])))
            case .failure(let error):
                completion(.failure(ProtocolError(.unavailable, "the refit failed: \(error)")))
            }
        }
    }

    private func requireIndexes() throws -> LiveIndexes {
        guard let indexes = live.withLock({ $0?.indexes }) else {
            throw ProtocolError(.unavailable, "the index is still being loaded or built; STATUS shows progress")
        }
        return indexes
    }

    /// SIMILAR-IMAGE: the nearest items to an image that need not be in the collection. The daemon
    /// reads only the bytes the client sent, never a file the client names.
    public func answerImage(_ bytes: [UInt8], k: Int, space: Space) -> Result<Response, ProtocolError> {
        do {
            let image = try bytes.withUnsafeBytes { (raw) throws(ImageError) in try ImageDecoder.decode(raw, path: "query image", options: decodeOptions) }.image
            let query: [Float]
            switch space {
            case .style:
                query = StyleDescriptor.compute(image)
            case .cnn:
                var input = [Float](repeating: 0, count: CNNInput.count)
                image.cnnInput(into: &input)
                var features = [Float](repeating: 0, count: Space.cnn.dimension)
                let ran = network.withLock { network -> Bool in
                    guard let network else { return false }
                    network.run(input, count: 1, features: &features)
                    return true
                }
                guard ran else { throw ProtocolError(.unavailable, "no network for queries by image") }
                query = features
            case .phash, .thumb:
                throw ProtocolError(.badRequest, "space=\(space) has no index; \(Space.searchable.map(\.name).joined(separator: " and ")) do")
            }
            return .success(try rows(for: try neighbours(of: query, excluding: nil, k: k, space: space, within: nil)))
        } catch let error as ProtocolError {
            return .failure(error)
        } catch let error as ImageError {
            return .failure(ProtocolError(.badRequest, error.reason))
        } catch {
            return .failure(ProtocolError(.internalError, "\(error)"))
        }
    }

    /// Refuses an admin verb to a peer that is not an admin (AccessPolicy). The connection asks
    /// this once per request, before anything else is done with it.
    public func authorize(_ request: Request, peer: Peer?) throws(ProtocolError) {
        try policy.authorize(request, peer: peer)
    }

    public func answer(_ request: Request) -> Result<Response, ProtocolError> {
        do {
            return .success(try respond(request))
        } catch let error as ProtocolError {
            return .failure(error)
        } catch let error as PathError {
            return .failure(ProtocolError(error))
        } catch {
            logger.error("request failed", metadata: ["request": "\(request)", "error": "\(error)"])
            return .failure(ProtocolError(.internalError, "\(error)"))
        }
    }

    /// HELP's answer: every verb and its usage. It never changes, so the socket server encodes it
    /// once per format.
    public static let help = Response(columns: ["verb", "usage"], rows: Verb.allCases.map { [$0.rawValue, $0.usage] })

    private func respond(_ request: Request) throws -> Response {
        switch request {
        case .ping:
            return Response(columns: ["reply"], rows: [["pong"]])
        case .help:
            return Self.help
        case .status:
            return try status()
        case .similar(let target, let k, let space, let within):
            return try similar(target, k: k, space: space, within: within)
        case .info(let target):
            let item = try resolve(target)
            let fields: [(String, String?)] = [
                ("id", item.id.map(String.init)), ("path", item.path), ("status", item.status.rawValue), ("size", String(item.size)),
                ("mtime_ns", String(item.mtimeNs)), ("content_hash", item.contentHash), ("width", item.width.map(String.init)),
                ("height", item.height.map(String.init)), ("format", item.format), ("error", item.error),
                ("first_seen", String(item.firstSeen)), ("last_indexed", item.lastIndexed.map(String.init)),
            ]
            return Response(columns: ["key", "value"], rows: fields.map { [$0.0, $0.1 ?? ""] })
        case .errors(let limit):
            return Response(columns: ["path", "reason"], rows: try catalog.failures(limit: limit).map { [$0.path, $0.reason] })
        case .quit, .format:
            // Connection state: the handler answers these itself.
            return Response(columns: [], rows: [])
        case .similarImage:
            throw ProtocolError(.badRequest, "SIMILAR-IMAGE needs its bytes after the line")
        case .duplicates(let maxDistance):
            var rows: [[String]] = []
            for (group, members) in try Duplicates.groups(store: store, maxDistance: maxDistance).enumerated() {
                for id in members { rows.append([String(group + 1), String(id.rawValue), try catalog.item(id)?.path ?? ""]) }
            }
            return Response(columns: ["group", "id", "path"], rows: rows)
        case .rescan(let directory):
            return try rescan(directory)
        case .watch(let directory):
            return try watch(directory)
        case .unwatch(let directory):
            return try unwatch(directory)
        case .refit:
            throw ProtocolError(.badRequest, "REFIT is answered by the connection, through refit(wait:completion:)")
        case .runs(let limit):
            return try runs(limit: limit)
        case .clusters:
            return try clusters()
        case .cluster(let id, let limit):
            return try cluster(id, limit: limit)
        case .map(let dimensions):
            return try map(dimensions: dimensions)
        case .run(let id):
            guard let run = try id.map({ try catalog.run($0) }) ?? catalog.currentRun() else {
                throw ProtocolError(.notFound, id.map { "no run \($0); RUNS lists them" } ?? "no refit has finished yet; REFIT wait starts one")
            }
            return Response(columns: RunRows.runColumns, rows: [RunRows.row(run)])
        case .runClusters(let run):
            try requireRun(run)
            return Response(columns: RunRows.clusterColumns, rows: try catalog.clusters(run: run).map(RunRows.row))
        case .runMembers(let run, let after, let limit):
            try requireRun(run)
            return Response(columns: RunRows.memberColumns, rows: try catalog.assignments(run: run, after: after, limit: limit).map(RunRows.row))
        case .thumbs(let after, let limit):
            return try thumbs(after: after, limit: limit)
        case .backup(let directory):
            let control = try requireControl("BACKUP")
            let reply = Handover<Result<[[String]], any Error>>()
            control.submit(.backup(try CollectionPath(directory), reply: reply))
            switch reply.wait() {
            case .success(let rows): return Response(columns: ["part", "bytes"], rows: rows)
            case .failure(let error): throw ProtocolError(.badRequest, "backup to \(directory) failed: \(error)")
            }
        }
    }

    private func status() throws -> Response {
        let counts = try catalog.statusCounts()
        let progress = self.progress.current
        var rows: [[String]] = [["state", progress.phase.rawValue]]
        rows += ItemStatus.allCases.map { [$0.rawValue, String(counts[$0] ?? 0)] }
        rows.append(["pending", String(progress.pending)])
        rows.append(["scanning", progress.scanning ? "yes" : "no"])
        rows.append(["ingest_problem", progress.problem ?? ""])
        rows.append(["polled_dirs", String(progress.polledDirectories)])
        rows.append(["inotify_overflows", String(progress.overflows)])
        rows.append(["index_size", live.withLock { $0.map { String($0.indexes.cnn.index.count) } } ?? "loading"])
        rows.append(["deleted_nodes", live.withLock { $0.map { String($0.indexes.all.map(\.index.deletedCount).reduce(0, +)) } } ?? ""])
        rows.append(["roots", try catalog.roots().map(\.path).joined(separator: ":")])
        rows.append(["paused_roots", progress.pausedRoots.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")])
        rows.append(["skipped_names", String(progress.skippedNames)])
        rows.append(["last_snapshot", progress.lastSnapshot.map { String(Int($0.timeIntervalSince1970)) } ?? ""])
        let current = try catalog.currentRun()
        rows.append(["last_refit", current?.finishedAt.map(String.init) ?? ""])
        rows.append(["refit_running", live.withLock { $0?.refits?.isRunning ?? false } ? "yes" : "no"])
        rows.append(["clusters", current?.clusterCount.map(String.init) ?? ""])
        rows.append(["uptime_s", String(Int(Date().timeIntervalSince(started)))])
        return Response(columns: ["key", "value"], rows: rows)
    }

    private func resolve(_ target: Target) throws -> CatalogItem {
        switch target {
        case .id(let id):
            guard let item = try catalog.item(id) else { throw ProtocolError(.notFound, "no item with id \(id)") }
            return item
        case .path(let text):
            // Lexical only: a question about a path outside the roots gets the same answer
            // whether or not it exists, so the socket is no oracle for the file system.
            let path = try CollectionPath(text)
            guard try catalog.rootSet().covers(path) else { throw ProtocolError(.forbidden, "\(text) is outside the watched roots") }
            guard let item = try catalog.item(path: path.string) else { throw ProtocolError(.notFound, "\(text) is not in the collection") }
            return item
        }
    }

    private func similar(_ target: Target, k: Int, space: Space, within: String?) throws -> Response {
        let item = try resolve(target)
        guard item.status == .indexed, let id = item.itemID else {
            throw ProtocolError(item.status == .failed ? .notFound : .unavailable,
                                item.status == .failed ? "\(item.path) could not be read: \(item.error ?? "")" : "\(item.path) is not indexed yet")
        }
        guard let query = try store.vector(id, space: space.rawValue) else { throw ProtocolError(.unavailable, "\(item.path) has no \(space.rawValue) vector yet") }
        return try rows(for: try neighbours(of: query, excluding: id.rawValue, k: k, space: space, within: within))
    }

    private func neighbours(of query: [Float], excluding: UInt64?, k: Int, space: Space, within: String?) throws -> [Neighbor] {
        let allowed = try within.map { try catalog.itemIDs(under: CollectionPath($0)) }
        let filter: (UInt64) -> Bool = { label in label != excluding && (allowed?.contains(label) ?? true) }
        guard let index = try requireIndexes()(space.rawValue) else { throw ProtocolError(.badRequest, "no index for space \(space.rawValue)") }
        return try index.index.search(query, k: k, ef: max(efSearch, 2 * k), filter: filter)
    }

    private func rows(for neighbours: [Neighbor]) throws -> Response {
        var rows: [[String]] = []
        let paths = try catalog.paths(of: neighbours.map { ItemID($0.label) })
        for (rank, neighbour) in neighbours.enumerated() {
            let path = paths[ItemID(neighbour.label)] ?? ""
            rows.append([String(rank + 1), String(format: "%.4f", 1 - neighbour.distance), String(neighbour.label), path])
        }
        return Response(columns: ["rank", "score", "id", "path"], rows: rows)
    }

    // MARK: Roots

    private func requireControl(_ verb: String) throws -> WatchLoop {
        _ = try requireIndexes()
        guard let control = live.withLock({ $0?.control }) else {
            throw ProtocolError(.unavailable, "\(verb) needs the ingestion thread, which this server does not run")
        }
        return control
    }

    private func rescan(_ directory: String?) throws -> Response {
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

    private func watch(_ directory: String) throws -> Response {
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

    private func unwatch(_ directory: String) throws -> Response {
        let control = try requireControl("UNWATCH")
        // The directory may be gone already, so match the name as given as well as resolved.
        let roots = try catalog.rootSet()
        let named = try CollectionPath(directory)
        guard let root = roots.roots.first(where: { $0 == named })
            ?? (try? CollectionPath.resolvingDirectory(directory)).flatMap({ resolved in roots.roots.first { $0 == resolved } }) else {
            throw ProtocolError(.notFound, "\(directory) is not a watched root (roots: \(roots.roots.map(\.string).joined(separator: ", ")))")
        }
        let items = try catalog.itemIDs(under: root).count
        try catalog.removeRoot(root)
        control.submit(.unwatch(root))
        logger.info("unwatched", metadata: ["root": "\(root)", "items": "\(items)"])
        return Response(columns: ["unwatched", "items_removed"], rows: [[root.string, String(items)]])
    }

    private func requireRun(_ id: Int64) throws {
        guard try catalog.run(id) != nil else { throw ProtocolError(.notFound, "no run \(id); RUNS lists them") }
    }

    /// The stored thumbnails after item `after`, `limit` of them: id, side, base64 of the RGB bytes.
    private func thumbs(after: UInt64, limit: Int) throws -> Response {
        let space = StandardSpaces.thumb
        guard store.spaces[space.name] != nil else { return Response(columns: ["id", "side", "rgb_base64"], rows: []) }
        let ids = try store.ids(space: space.name)
        let start = ids.firstIndex { $0.rawValue > after } ?? ids.endIndex
        var rows: [[String]] = []
        for id in ids[start...].prefix(limit) {
            guard let pixels = try store.vector(id, space: space.name, as: UInt8.self) else { continue }
            rows.append([String(id.rawValue), String(Space.thumbnailSide), Data(pixels).base64EncodedString()])
        }
        return Response(columns: ["id", "side", "rgb_base64"], rows: rows)
    }

    // MARK: Runs and clusters

    private func currentRun() throws -> RefitRun {
        guard let run = try catalog.currentRun() else { throw ProtocolError(.unavailable, "no refit has finished yet; REFIT wait starts one") }
        return run
    }

    private func runs(limit: Int) throws -> Response {
        Response(columns: ["run", "status", "current", "started", "finished", "algorithm", "items", "clusters", "noise_fraction", "silhouette", "error"],
                 rows: try catalog.runs(limit: limit).map { run in
                     [String(run.id), run.status, run.isCurrent ? "yes" : "no", String(run.startedAt), run.finishedAt.map(String.init) ?? "", run.algorithm,
                      run.itemCount.map(String.init) ?? "", run.clusterCount.map(String.init) ?? "", run.noiseFraction.map { String(format: "%.4f", $0) } ?? "",
                      run.silhouette.map { String(format: "%.4f", $0) } ?? "", run.error ?? ""]
                 })
    }

    private func clusters() throws -> Response {
        let run = try currentRun()
        let ages = try catalog.clusterAges(run: run.id)
        let facts = try catalog.clusters(run: run.id)
        let paths = try catalog.paths(of: facts.compactMap(\.exemplar))
        return Response(columns: ["id", "size", "exemplar", "silhouette", "age_runs"], rows: facts.map { c in
            [String(c.cluster), String(c.size), c.exemplar.flatMap { paths[$0] } ?? "", c.silhouette.map { String(format: "%.4f", $0) } ?? "",
             String(ages[c.cluster] ?? 1)]
        })
    }

    /// A cluster's members, nearest its centre (on the 2-D map) first.
    private func cluster(_ id: Int, limit: Int) throws -> Response {
        let run = try currentRun()
        let members = try catalog.assignments(run: run.id, cluster: id)
        guard !members.isEmpty else { throw ProtocolError(.notFound, "no cluster \(id) in run \(run.id); CLUSTERS lists them") }
        let cx = members.reduce(0) { $0 + $1.assignment.map2.0 } / Float(members.count)
        let cy = members.reduce(0) { $0 + $1.assignment.map2.1 } / Float(members.count)
        func distance(_ a: Assignment) -> Float { (a.map2.0 - cx) * (a.map2.0 - cx) + (a.map2.1 - cy) * (a.map2.1 - cy) }
        let ordered = members.sorted { (distance($0.assignment), $0.assignment.item) < (distance($1.assignment), $1.assignment.item) }.prefix(limit)
        return Response(columns: ["rank", "id", "path", "probability", "outlier_score"], rows: ordered.enumerated().map { rank, member in
            [String(rank + 1), String(member.assignment.item.rawValue), member.path, member.assignment.probability.map { String(format: "%.4f", $0) } ?? "",
             member.assignment.outlierScore.map { String(format: "%.4f", $0) } ?? ""]
        })
    }

    private func map(dimensions: Int) throws -> Response {
        let run = try currentRun()
        let columns = dimensions == 3 ? ["id", "path", "x", "y", "z", "cluster"] : ["id", "path", "x", "y", "cluster"]
        return Response(columns: columns, rows: try catalog.assignments(run: run.id).map { a, path in
            let m = a
            let coordinates = dimensions == 3 ? [m.map3.0, m.map3.1, m.map3.2] : [m.map2.0, m.map2.1]
            return [String(m.item.rawValue), path] + coordinates.map { String(format: "%.5f", $0) } + [String(m.cluster)]
        })
    }
}

extension ProtocolError {
    /// A refused path, as the protocol's error codes say it.
    init(_ error: PathError) {
        switch error.kind {
        case .malformed, .overlapping: self.init(.badRequest, error.description)
        case .notFound: self.init(.notFound, error.description)
        case .refused: self.init(.forbidden, error.description)
        }
    }
}
