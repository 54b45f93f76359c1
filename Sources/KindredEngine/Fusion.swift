import KindredCore
import KindredIndex
import KindredStore

/// The fused ranking SIMILAR answers by default: the CNN index's nearest `candidates`, re-ranked
/// by one score that adds the style space's and the perceptual hash's agreement to the CNN's:
///
///     score = (cnn + style_weight · style + phash_weight · (1 − phash_bits / 64)) / (1 + style_weight + phash_weight)
///
/// `cnn` and `style` are cosine similarities (both spaces hold unit vectors), `phash_bits` the differing bits of the two 64-bit
/// hashes. Dividing by the weights' sum keeps the score in the CNN cosine's range. The weights were
/// chosen on the dev sets (Benchmarks/quality/, RESULTS.md "Find similar") and live in
/// `[similar]` of Schema/kindred.toml.
public struct Fusion: Sendable, Equatable {
    public var styleWeight: Float
    public var phashWeight: Float
    /// How many CNN neighbours are re-ranked (at least k).
    public var candidates: Int

    public init(styleWeight: Float = 0.5, phashWeight: Float = 0.2, candidates: Int = 100) {
        self.styleWeight = styleWeight
        self.phashWeight = phashWeight
        self.candidates = candidates
    }

    /// One candidate's score and each term's part of it (`explain=1`): the parts add up to it.
    public struct Terms: Sendable, Equatable {
        public var cnn: Float
        public var style: Float
        public var phash: Float
        public var phashBits: Int
        public var score: Float { cnn + style + phash }

        /// The term that gave the most.
        public var dominant: String {
            cnn >= style && cnn >= phash ? "cnn" : style >= phash ? "style" : "phash"
        }
    }

    public func terms(cnn: Float, style: Float, phashBits: Int) -> Terms {
        let total = 1 + styleWeight + phashWeight
        return Terms(
            cnn: cnn / total, style: styleWeight * style / total,
            phash: phashWeight * (1 - Float(phashBits) / 64) / total, phashBits: phashBits)
    }

    /// What a query is compared by: its CNN vector, style vector and perceptual hash.
    public struct Probe: Sendable {
        public var cnn: [Float]
        public var style: [Float]
        public var phash: [UInt8]

        public init(cnn: [Float], style: [Float], phash: [UInt8]) {
            self.cnn = cnn
            self.style = style
            self.phash = phash
        }
    }

    /// A ranked answer: the neighbour, and its terms.
    public struct Ranked: Sendable {
        public var label: UInt64
        public var terms: Terms
    }

    /// Re-ranks the CNN neighbours `found` (exact cosine distances, as `LiveIndex.search` gives)
    /// by the fused score, reading each one's style vector and hash from the store; returns the
    /// best `k`. A candidate missing a style vector or hash (none should be: both are required
    /// spaces) scores by the CNN alone.
    public func rerank(_ found: [Neighbor], probe: Probe, k: Int, store: VectorStore) throws -> [Ranked] {
        var ranked: [Ranked] = []
        ranked.reserveCapacity(found.count)
        for neighbour in found {
            let id = ItemID(neighbour.label)
            let style =
                try store.vector(id, space: Space.style.rawValue).map {
                    $0.count == probe.style.count ? dotProduct(probe.style, $0) : 0
                } ?? 0
            let bits =
                try store.vector(id, space: Space.phash.rawValue, as: UInt8.self).map {
                    zip(probe.phash, $0).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
                } ?? 64
            ranked.append(
                Ranked(label: neighbour.label, terms: terms(cnn: 1 - neighbour.distance, style: style, phashBits: bits))
            )
        }
        ranked.sort { ($0.terms.score, $1.label) > ($1.terms.score, $0.label) }
        return Array(ranked.prefix(k))
    }
}
