import KindredCore

/// A parsed request line (Schema/protocol.md).
public enum Request: Equatable, Sendable {
    case ping
    case help
    case quit
    case status
    case similar(Target, SimilarQuery, within: String?)
    /// The image's bytes follow the line.
    case similarImage(byteCount: Int, SimilarQuery)
    case info(Target)
    /// Why each of up to `Request.maxExplained` items matches the target: the fused score's
    /// terms, as `SIMILAR … explain=1` gives them (the map's neighbour list, drawn through the socket).
    case explain(Target, items: [ItemID])
    /// Groups of duplicates at a tier, each with the copy to keep first.
    case duplicates(tier: DuplicateTier, maxDistance: Int)
    case errors(limit: Int)
    case rescan(directory: String?)
    case watch(directory: String)
    case unwatch(directory: String)
    case format(OutputFormat)
    /// Start a refit; with `wait`, answer when it is done.
    case refit(wait: Bool)
    case runs(limit: Int)
    case clusters
    case cluster(id: Int, limit: Int)
    /// Name a cluster's stable id (nil removes the name).
    case nameCluster(id: Int, name: ClusterName?)
    case map(dimensions: Int)
    /// An online copy of the whole state into a new directory.
    case backup(directory: String)
    /// A run's record (nil: the current run), for maps and reports drawn through the socket.
    case run(id: Int64?)
    /// A run's clusters as the refit stored them.
    case runClusters(run: Int64)
    /// A run's members in item-id order, a page at a time: ids above `after`, at most `limit`.
    case runMembers(run: Int64, after: UInt64, limit: Int)
    /// The stored thumbnails (the `thumb` space), a page at a time.
    case thumbs(after: UInt64, limit: Int)
}

extension Request {
    /// The largest `max_distance` (differing pHash bits) DUPLICATES accepts.
    public static let maxDuplicateDistance = 16
    /// The most items one EXPLAIN compares with its target: a map's neighbour list is far shorter.
    public static let maxExplained = 100

    /// The verb this request was made with.
    public var verb: Verb {
        switch self {
        case .ping: .ping
        case .help: .help
        case .quit: .quit
        case .status: .status
        case .similar: .similar
        case .similarImage: .similarImage
        case .info: .info
        case .explain: .explain
        case .duplicates: .duplicates
        case .errors: .errors
        case .rescan: .rescan
        case .watch: .watch
        case .unwatch: .unwatch
        case .format: .format
        case .refit: .refit
        case .runs: .runs
        case .clusters: .clusters
        case .cluster: .cluster
        case .nameCluster: .nameCluster
        case .map: .map
        case .backup: .backup
        case .run: .run
        case .runClusters: .runClusters
        case .runMembers: .runMembers
        case .thumbs: .thumbs
        }
    }

    /// Heavy by verb, or a SIMILAR narrowed by `within=` (which lists the items under a directory).
    public var isHeavy: Bool {
        if case .similar(_, _, let within) = self, within != nil { return true }
        return verb.isHeavy
    }
}

/// How SIMILAR ranks: the fused default (`Schema/kindred.toml` [similar]: CNN candidates re-ranked
/// by CNN, style and pHash together), or one space alone.
public enum Ranking: String, Equatable, Sendable, CaseIterable {
    case fused, cnn, style

    /// The space a pure ranking searches; the fused one draws its candidates from `cnn`.
    public var space: Space { self == .style ? .style : .cnn }
}

/// What SIMILAR and SIMILAR-IMAGE ask besides their subject.
public struct SimilarQuery: Equatable, Sendable {
    public var k: Int
    public var ranking: Ranking
    /// Add each term's part of the score (`explain=1`).
    public var explain: Bool

    public init(k: Int = 10, ranking: Ranking = .fused, explain: Bool = false) {
        self.k = k
        self.ranking = ranking
        self.explain = explain
    }

    /// What `explain=1` adds to an answer's rank, score, id and path, in order (Schema/protocol.md).
    public static let explainColumns = ["cnn", "style", "phash", "phash_bits", "dominant", "expanded", "region"]
}

/// What a request is about: an item id (1…Int64.max, checked by the parser) or an absolute path.
public enum Target: Equatable, Sendable {
    case id(ItemID)
    case path(String)
}

public enum OutputFormat: String, Equatable, Sendable, CaseIterable {
    case text, json
}

/// The verbs, with the usage line `HELP` prints.
public enum Verb: String, CaseIterable, Sendable {
    case ping = "PING", help = "HELP", quit = "QUIT", status = "STATUS"
    case similar = "SIMILAR", similarImage = "SIMILAR-IMAGE", info = "INFO", explain = "EXPLAIN"
    case duplicates = "DUPLICATES"
    case errors = "ERRORS", rescan = "RESCAN", watch = "WATCH", unwatch = "UNWATCH", format = "FORMAT"
    case refit = "REFIT", runs = "RUNS", clusters = "CLUSTERS", cluster = "CLUSTER", map = "MAP", backup = "BACKUP"
    case run = "RUN", runClusters = "RUN-CLUSTERS", runMembers = "RUN-MEMBERS", thumbs = "THUMBS"
    case nameCluster = "NAME-CLUSTER"

    /// Verbs that change what the daemon holds or does (its roots, its items, a refit): only
    /// peers the configuration names as admins may use them (Schema/protocol.md, "Who may ask").
    public var requiresAdmin: Bool {
        switch self {
        case .watch, .unwatch, .rescan, .refit, .backup, .nameCluster: true
        default: false
        }
    }

    /// Verbs whose cost grows with the collection or the payload; they run on threads of their
    /// own with a bounded queue, so they cannot starve the light ones.
    public var isHeavy: Bool {
        switch self {
        // ERRORS lists up to 100,000 failed files, whose paths come from whoever can write to a
        // root: megabytes, so its answers count among the heavy ones that exist at once.
        case .similarImage, .duplicates, .cluster, .map, .backup, .runMembers, .thumbs, .errors: true
        default: false
        }
    }

    public var usage: String {
        switch self {
        case .ping: "PING"
        case .help: "HELP"
        case .quit: "QUIT"
        case .status: "STATUS"
        case .similar: "SIMILAR <path|id> [k=10] [space=fused|cnn|style] [explain=0|1] [within=prefix:/dir]"
        case .similarImage:
            "SIMILAR-IMAGE <nbytes> [k=10] [space=fused|cnn|style] [explain=0|1], then the image's bytes"
        case .info: "INFO <path|id>"
        case .explain: "EXPLAIN <path|id> <id>[,<id>…] (up to 100 ids)"
        case .duplicates: "DUPLICATES [tier=exact|near|similar] [max_distance=6]"
        case .errors: "ERRORS [limit=100]"
        case .rescan: "RESCAN [dir]"
        case .watch: "WATCH <dir>"
        case .unwatch: "UNWATCH <dir>"
        case .format: "FORMAT text|json"
        case .refit: "REFIT [wait]"
        case .runs: "RUNS [limit=20]"
        case .clusters: "CLUSTERS"
        case .cluster: "CLUSTER <id> [limit=50]"
        case .nameCluster: "NAME-CLUSTER <id> \"<name>\" (\"\" removes it)"
        case .map: "MAP [dims=2|3]"
        case .backup: "BACKUP <new-dir>"
        case .run: "RUN [id]"
        case .runClusters: "RUN-CLUSTERS <run>"
        case .runMembers: "RUN-MEMBERS <run> [after=0] [limit=10000]"
        case .thumbs: "THUMBS [after=0] [limit=1000]"
        }
    }
}

/// A refusal, with the code and message the `ERR` line carries.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case badRequest = "bad-request", unknownVerb = "unknown-verb", tooLong = "too-long"
        case notFound = "not-found", forbidden = "forbidden", unavailable = "unavailable", internalError = "internal"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
