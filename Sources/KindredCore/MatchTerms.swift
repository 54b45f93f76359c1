/// The fused similarity score SIMILAR ranks by default, and how much each kind of agreement gave
/// to it. One formula, here, for every place that shows a score (the SIMILAR verb, the map's
/// neighbour list):
///
///     score = (cnn + style_weight · style + phash_weight · (1 − phash_bits / 64)
///              + region_weight · max(0, region − region_floor) / (1 − region_floor))
///             / (1 + style_weight + phash_weight + region_weight)
///
/// `cnn` and `style` are cosine similarities (both spaces hold unit vectors), `phash_bits` the
/// differing bits of the two 64-bit hashes, `region` how well the query's picture lies inside the
/// candidate's (`RegionMatch`'s correlation of their thumbnails; 0 when either has none). Below
/// the floor a correlation is what look-alike pictures reach by chance, so it gives nothing.
/// Dividing by the weights' sum keeps the score in the CNN cosine's range. The standard weights
/// were chosen on the dev sets (Benchmarks/quality/, RESULTS.md "Find similar" and "Crops found
/// by their thumbnails"); kindredd reads its own from `[similar]` in kindred.toml. A ranking
/// without the region term has its weight 0 (`Fusion.forItems`).
public struct FusionWeights: Sendable, Equatable {
    public var style: Float
    public var phash: Float
    public var region: Float
    public var regionFloor: Float

    public static let standard = FusionWeights(style: 0.5, phash: 0.2, region: 0.35, regionFloor: 0.75)

    public init(style: Float, phash: Float, region: Float = 0, regionFloor: Float = 0.75) {
        self.style = style
        self.phash = phash
        self.region = region
        self.regionFloor = regionFloor
    }

    /// `region`: the thumbnails' correlation, nil when it could not be measured (it then gives
    /// nothing, as a correlation under the floor does).
    public func terms(cnn: Float, style: Float, phashBits: Int, region correlation: Float? = nil) -> MatchTerms {
        let total = 1 + self.style + phash + region
        let above = correlation.map { max(0, $0 - regionFloor) / max(1 - regionFloor, .ulpOfOne) } ?? 0
        return MatchTerms(
            cnn: cnn / total, style: self.style * style / total,
            phash: phash * (1 - Float(phashBits) / 64) / total, phashBits: phashBits, region: region * above / total)
    }
}

/// One match's score and each term's part of it (`explain=1`): the parts add up to the score.
public struct MatchTerms: Sendable, Equatable {
    public var cnn: Float
    public var style: Float
    public var phash: Float
    public var phashBits: Int
    public var region: Float
    public var score: Float { cnn + style + phash + region }

    public init(cnn: Float, style: Float, phash: Float, phashBits: Int, region: Float = 0) {
        self.cnn = cnn
        self.style = style
        self.phash = phash
        self.phashBits = phashBits
        self.region = region
    }

    /// The term that gave the most.
    public var dominant: String {
        [("cnn", cnn), ("style", style), ("phash", phash), ("region", region)].max { $0.1 < $1.1 }!.0
    }
}
