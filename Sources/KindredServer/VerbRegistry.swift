import KindredProtocol

/// Who answers each verb: the one table HELP is built from, which the tests hold `Verb`, the
/// command service and Schema/protocol.md to.
public enum VerbRegistry {
    public enum Answerer: String, Sendable, CaseIterable {
        /// The connection itself: its state (`QUIT`, `FORMAT`), a payload (`SIMILAR-IMAGE`), an
        /// answer that comes when a run ends (`REFIT`), or the loop's own liveness (`PING`, `HELP`).
        case connection
        /// What the collection holds (Verbs/QueryVerbs.swift).
        case queries
        /// The collection's roots and state, admin only (Verbs/CollectionVerbs.swift).
        case collection
        /// Refit results (Verbs/RefitVerbs.swift).
        case refits
    }

    public static func answerer(_ verb: Verb) -> Answerer {
        switch verb {
        case .ping, .help, .quit, .format, .similarImage, .refit: .connection
        case .status, .similar, .info, .explain, .duplicates, .errors, .thumbs: .queries
        case .rescan, .watch, .unwatch, .backup: .collection
        case .runs, .clusters, .cluster, .nameCluster, .map, .run, .runClusters, .runMembers: .refits
        }
    }

    /// HELP's answer: every verb, its usage, and whether only admins may use it. It never
    /// changes, so the connection encodes it once per format.
    public static let help = Response(
        columns: ["verb", "usage", "admin"],
        rows: Verb.allCases.map {
            [$0.rawValue, $0.usage, $0.requiresAdmin ? "yes" : "no"]
        })
}
