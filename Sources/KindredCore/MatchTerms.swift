/// The fused similarity score SIMILAR ranks by default, and how much each kind of agreement gave
/// to it. One formula, here, for every place that shows a score (the SIMILAR verb, the map's
/// neighbour list):
///
///     score = (cnn + style_weight · style + phash_weight · (1 − phash_bits / 64)) / (1 + style_weight + phash_weight)
///
/// `cnn` and `style` are cosine similarities (both spaces hold unit vectors), `phash_bits` the
/// differing bits of the two 64-bit hashes. Dividing by the weights' sum keeps the score in the
/// CNN cosine's range. The standard weights were chosen on the dev sets (Benchmarks/quality/,
/// RESULTS.md "Find similar"); kindredd reads its own from `[similar]` in kindred.toml.
public struct FusionWeights: Sendable, Equatable {
    public var style: Float
    public var phash: Float

    public static let standard = FusionWeights(style: 0.5, phash: 0.2)

    public init(style: Float, phash: Float) {
        self.style = style
        self.phash = phash
    }

    public func terms(cnn: Float, style: Float, phashBits: Int) -> MatchTerms {
        let total = 1 + self.style + phash
        return MatchTerms(
            cnn: cnn / total, style: self.style * style / total,
            phash: phash * (1 - Float(phashBits) / 64) / total, phashBits: phashBits)
    }
}

/// One match's score and each term's part of it (`explain=1`): the parts add up to the score.
public struct MatchTerms: Sendable, Equatable {
    public var cnn: Float
    public var style: Float
    public var phash: Float
    public var phashBits: Int
    public var score: Float { cnn + style + phash }

    public init(cnn: Float, style: Float, phash: Float, phashBits: Int) {
        self.cnn = cnn
        self.style = style
        self.phash = phash
        self.phashBits = phashBits
    }

    /// The term that gave the most.
    public var dominant: String {
        cnn >= style && cnn >= phash ? "cnn" : style >= phash ? "style" : "phash"
    }
}
