import Foundation

/// What a refit measured, stored as the run's `metrics` (JSON, snake_case keys) and read back by
/// the report: the one definition of that document, written and read through `Codable`.
public struct RunMetrics: Codable, Sendable, Equatable {
    /// One k tried by k-means' selection.
    public struct KCandidate: Codable, Sendable, Equatable {
        public var k: Int
        public var silhouette: Double
        public var inertia: Double
        public init(k: Int, silhouette: Double, inertia: Double) {
            (self.k, self.silhouette, self.inertia) = (k, silhouette, inertia)
        }
    }

    /// A cluster's silhouettes for the knife plot: its size and up to 200 quantiles, highest first.
    public struct Knife: Codable, Sendable, Equatable {
        public var n: Int
        public var values: [Double]
        public init(n: Int, values: [Double]) { (self.n, self.values) = (n, values) }
    }

    public var pcaComponents = 0
    /// The fraction of the variance the kept components explain, and the cumulative curve.
    public var pcaExplained = 0.0
    public var pcaScree: [Double] = []
    public var varianceTarget = 0.0
    public var kCandidates: [KCandidate]?
    public var daviesBouldin: Double?
    /// Points the silhouette was computed on (a sample of large collections).
    public var silhouetteSample: Int?
    /// By stable cluster id (as a string: JSON object keys).
    public var silhouetteByCluster: [String: Double]?
    public var silhouetteKnife: [String: Knife]?
    /// Stable ids of the clusters this run created, and of the previous run's that it lost.
    public var born: [Int] = []
    public var vanished: [Int] = []
    /// Items UMAP was fitted on when it fitted a sample and placed the others by transform.
    public var umapFitted: Int?

    public init() {}

    /// Every field may be missing (a run stored before it existed, or one a benchmark wrote
    /// by hand); missing ones keep their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pcaComponents = try c.decodeIfPresent(Int.self, forKey: .pcaComponents) ?? 0
        pcaExplained = try c.decodeIfPresent(Double.self, forKey: .pcaExplained) ?? 0
        pcaScree = try c.decodeIfPresent([Double].self, forKey: .pcaScree) ?? []
        varianceTarget = try c.decodeIfPresent(Double.self, forKey: .varianceTarget) ?? 0
        kCandidates = try c.decodeIfPresent([KCandidate].self, forKey: .kCandidates)
        daviesBouldin = try c.decodeIfPresent(Double.self, forKey: .daviesBouldin)
        silhouetteSample = try c.decodeIfPresent(Int.self, forKey: .silhouetteSample)
        silhouetteByCluster = try c.decodeIfPresent([String: Double].self, forKey: .silhouetteByCluster)
        silhouetteKnife = try c.decodeIfPresent([String: Knife].self, forKey: .silhouetteKnife)
        born = try c.decodeIfPresent([Int].self, forKey: .born) ?? []
        vanished = try c.decodeIfPresent([Int].self, forKey: .vanished) ?? []
        umapFitted = try c.decodeIfPresent(Int.self, forKey: .umapFitted)
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// nil for a run that stored none (failed, or older than the field it lacks).
    public init?(json: String) {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let decoded = try? decoder.decode(Self.self, from: Data(json.utf8)) else { return nil }
        self = decoded
    }
}
