import Foundation
import KindredAnalysis

/// How a refit groups the collection, with only the parameters that algorithm uses.
public enum RefitAlgorithm: Sendable, Equatable {
    /// HDBSCAN on a UMAP layout of `layoutDimensions` (the maps themselves are 2-D and 3-D).
    case hdbscan(minClusterSize: Int, minSamples: Int, layoutDimensions: Int)
    /// k-means on the PCA projection, k chosen by silhouette within `ks`.
    case kmeans(ks: ClosedRange<Int>)

    /// As the catalog records it and `Schema/kindred.toml` names it.
    public var name: String {
        switch self {
        case .hdbscan: "hdbscan"
        case .kmeans: "kmeans"
        }
    }
}

/// What a refit is asked to do and when (the [refit] section of Schema/kindred.toml, checked).
public struct RefitSettings: Sendable, Equatable {
    /// A daily local time as minutes after midnight; nil for none.
    public var scheduleMinutes: Int? = 3 * 60
    /// Refit when this fraction of the collection is new since the last run; 0 for never.
    public var afterNewFraction = 0.2
    public var algorithm = RefitAlgorithm.hdbscan(minClusterSize: 50, minSamples: 10, layoutDimensions: 5)
    /// PCA keeps components up to this fraction of the variance, at most `maxComponents`.
    public var variance = 0.9
    public var maxComponents = 128
    /// UMAP's neighbours (the graph comes from the live index) and its minimum distance.
    public var neighbors = 15
    public var minDist: Float = 0.1
    /// Above this many items, UMAP is fitted on a seeded sample of this size and the other items
    /// are placed by its `transform` (their neighbours among the sample from an index over the PCA
    /// projection); 0 fits every item. Benchmarks/RESULTS.md measures what it costs in trust.
    public var umapSample = 200_000
    public var keepRuns = 5
    /// The least overlap (Jaccard over members) for a cluster to keep a previous run's id.
    public var matchJaccard = 0.3
    public var seed: UInt64 = 1

    public init() {}

    /// The fewest indexed items a refit can fit: UMAP needs its neighbours and HDBSCAN two of its
    /// smallest clusters. The one rule the refitter refuses by and the scheduler waits for.
    public var minimumItems: Int {
        switch algorithm {
        case .hdbscan(let minClusterSize, _, _): max(neighbors + 2, 2 * minClusterSize)
        case .kmeans(let ks): max(neighbors + 2, ks.lowerBound + 1)
        }
    }

    /// The daily time as HH:MM, for logs.
    public var scheduleText: String {
        scheduleMinutes.map { String(format: "%02d:%02d", $0 / 60, $0 % 60) } ?? "none"
    }
}
