import Foundation
import KindredCore
import KindredEngine
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
    /// How the default SIMILAR ranking combines the spaces (`[similar]`).
    let fusion: Fusion
    /// The network for queries by image; separate from ingestion's, which another thread owns.
    let network: Mutex<EfficientNetLite0?>
    /// Its arithmetic, for STATUS (read without waiting for a query that holds the network).
    let cnnPrecision: CNNPrecision?
    /// Who may use the admin verbs, and where WATCH may add roots.
    public let policy: AccessPolicy
    /// The size rules for images sent with SIMILAR-IMAGE: the same as for the collection's files.
    let decodeOptions: DecodeOptions
    /// How a query image is prepared: as ingestion prepares the collection's files.
    var framing: Framing { StandardSpaces.framing }

    /// The indexes, and the ingestion thread that RESCAN, WATCH and UNWATCH are handed to. The
    /// socket answers before they exist (building indexes for a large collection without a
    /// snapshot takes minutes), so queries that need them answer `unavailable` until `attach`.
    let live = Mutex<Live?>(nil)
    /// The socket server's phase, which it sets and STATUS reports.
    let serverPhase = Mutex(SocketServer.Phase.starting)

    struct Live: Sendable {
        var indexes: LiveIndexes
        /// nil when no ingestion thread runs (tests of the query side).
        var control: WatchLoop?
        var refits: RefitScheduler?
    }

    public init(
        catalog: Catalog, store: VectorStore, indexes: LiveIndexes? = nil, network: sending EfficientNetLite0? = nil,
        progress: IngestProgress = IngestProgress(), control: WatchLoop? = nil,
        efSearch: Int = Configuration().efSearch,
        fusion: Fusion = Fusion(), policy: AccessPolicy = AccessPolicy(),
        decodeOptions: DecodeOptions = DecodeOptions(), logger: Logger
    ) {
        // A query image must be described as the stored vectors were (StandardSpaces).
        precondition(network.map { $0.pooling == StandardSpaces.pooling } ?? true, "use StandardSpaces.network(...)")
        self.policy = policy
        self.decodeOptions = decodeOptions
        self.catalog = catalog
        self.store = store
        self.cnnPrecision = network?.precision
        self.network = Mutex(network)
        self.progress = progress
        self.efSearch = efSearch
        self.fusion = fusion
        self.logger = logger
        if let indexes { attach(indexes: indexes, control: control) }
    }

    /// Makes the indexes (and the ingestion thread) available to requests.
    public func attach(indexes: LiveIndexes, control: WatchLoop?, refits: RefitScheduler? = nil) {
        live.withLock { $0 = Live(indexes: indexes, control: control, refits: refits) }
    }

    func requireIndexes() throws -> LiveIndexes {
        guard let indexes = live.withLock({ $0?.indexes }) else {
            throw ProtocolError(.unavailable, "the index is still being loaded or built; STATUS shows progress")
        }
        return indexes
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

    /// Answers a request the service owns, by its verb group (`VerbRegistry`); one file per group.
    private func respond(_ request: Request) throws -> Response {
        switch request {
        case .ping: Response(columns: ["reply"], rows: [["pong"]])
        case .help: VerbRegistry.help
        // Queries (Verbs/QueryVerbs.swift).
        case .status: try status()
        case .similar(let target, let query, let within): try similar(target, query, within: within)
        case .info(let target): try info(target)
        case .explain(let target, let items): try explain(target, items)
        case .errors(let limit): try errors(limit: limit)
        case .duplicates(let tier, let maxDistance): try duplicates(tier, maxDistance: maxDistance)
        case .thumbs(let after, let limit): try thumbs(after: after, limit: limit)
        // The collection's roots and state (Verbs/CollectionVerbs.swift).
        case .rescan(let directory): try rescan(directory)
        case .watch(let directory): try watch(directory)
        case .unwatch(let directory): try unwatch(directory)
        case .backup(let directory): try backup(directory)
        // Refit results (Verbs/RefitVerbs.swift).
        case .runs(let limit): try runs(limit: limit)
        case .clusters: try clusters()
        case .cluster(let id, let limit): try cluster(id, limit: limit)
        case .map(let dimensions): try map(dimensions: dimensions)
        case .run(let id): try run(id)
        case .runClusters(let run): try runClusters(run)
        case .nameCluster(let id, let name): try nameCluster(id, name)
        case .runMembers(let run, let after, let limit): try runMembers(run, after: after, limit: limit)
        // Connection state, a payload, or an answer that comes later: the connection's
        // (`ConnectionHandler`, `refit(wait:completion:)`, `answerImage`).
        case .quit, .format, .similarImage, .refit:
            throw ProtocolError(
                .internalError, "\(request.verb.rawValue) is answered by the connection, not the command service")
        }
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
