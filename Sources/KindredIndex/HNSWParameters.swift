/// The build parameters, named as in Malkov & Yashunin (2018).
public struct HNSWParameters: Sendable, Equatable {
    /// M in the paper: links per node on the upper layers. Layer 0 keeps 2·M.
    public var connectivity: Int
    /// efConstruction in the paper: the candidate-list size while linking a new node.
    public var efConstruction: Int
    /// Seeds the level of each node, so a build is reproducible.
    public var seed: UInt64

    public init(connectivity: Int = 16, efConstruction: Int = 200, seed: UInt64 = 1) {
        self.connectivity = connectivity
        self.efConstruction = efConstruction
        self.seed = seed
    }

    /// Rejects parameters the algorithm cannot work with, saying what would.
    public func validate(dimension: Int) throws(IndexError) {
        guard (2...512).contains(connectivity) else {
            throw .invalidParameter(
                name: "M (connectivity)", value: "\(connectivity)",
                requirement: "it must be between 2 and 512; 12 to 48 suits most data, 16 is the usual default")
        }
        guard efConstruction >= 1, efConstruction <= 100_000 else {
            throw .invalidParameter(
                name: "efConstruction", value: "\(efConstruction)",
                requirement: "it must be between 1 and 100000; 100 to 400 suits most data")
        }
        guard dimension >= 1, dimension <= 65_536 else {
            throw .invalidParameter(
                name: "dimension", value: "\(dimension)", requirement: "it must be between 1 and 65536")
        }
    }
}

/// One search result: the caller's label and its distance (cosine: 1 − similarity; L2: squared).
public struct Neighbor: Sendable, Equatable {
    public var label: UInt64
    public var distance: Float

    public init(label: UInt64, distance: Float) {
        self.label = label
        self.distance = distance
    }
}
