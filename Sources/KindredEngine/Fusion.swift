import KindredCore
import KindredFeatures
import KindredIndex
import KindredStore

/// The fused ranking SIMILAR answers by default: the CNN index's nearest `candidates`, re-ranked
/// by one score that adds the style space's and the perceptual hash's agreement to the CNN's
/// (`FusionWeights` owns the formula).
public struct Fusion: Sendable, Equatable {
    public var weights: FusionWeights
    /// How many CNN neighbours are re-ranked (at least k). 64, the index's default `ef_search`,
    /// makes the walk the pure CNN query's; 100 gained 0.0005 P@10 on the category dev set for
    /// 1.5× the walk (RESULTS.md, "Find similar").
    public var candidates: Int

    public init(weights: FusionWeights = .standard, candidates: Int = 64) {
        self.weights = weights
        self.candidates = candidates
    }

    /// What a query is compared by: its CNN vector, style vector and perceptual hash. A
    /// colourless query (`StyleDescriptor.isColourless`: a greyscale copy, a black-and-white
    /// drawing) compares styles by their colour-free parts only, so a greyscale copy is not held
    /// against its coloured original for the colour it lost (RESULTS.md, "Copy detection").
    public struct Probe: Sendable {
        public var cnn: [Float]
        public var style: [Float]
        public var phash: [UInt8]
        /// The style vector's colour-free parts when the query is colourless; nil otherwise.
        let colourFreeStyle: [Float]?

        public init(cnn: [Float], style: [Float], phash: [UInt8]) {
            self.cnn = cnn
            self.style = style
            self.phash = phash
            colourFreeStyle = StyleDescriptor.isColourless(style) ? StyleDescriptor.colourFree(style) : nil
        }

        public var isColourless: Bool { colourFreeStyle != nil }
    }

    /// An item's stored probe; nil when a space has no record for it.
    public static func probe(of item: ItemID, store: VectorStore) throws -> Probe? {
        guard let cnn = try store.vector(item, space: Space.cnn.rawValue),
            let style = try store.vector(item, space: Space.style.rawValue),
            let phash = try store.vector(item, space: Space.phash.rawValue, as: UInt8.self)
        else { return nil }
        return Probe(cnn: cnn, style: style, phash: phash)
    }

    /// A ranked answer: the neighbour, and its terms.
    public struct Ranked: Sendable {
        public var label: UInt64
        public var terms: MatchTerms
    }

    /// Re-ranks the CNN neighbours `found` (exact cosine distances, as `LiveIndex.search` gives)
    /// by the fused score, reading each one's style vector and hash; returns the best `k`. A
    /// candidate missing a style vector or hash (none should be: both are required spaces) scores
    /// 0 for that term. `styles` (the live style index) answers for style vectors from memory, so
    /// only the hashes need the store; a candidate it lacks is read from the store.
    public func rerank(
        _ found: [Neighbor], probe: Probe, k: Int, store: VectorStore, styles inMemory: (any ExactVectors)? = nil
    ) throws -> [Ranked] {
        let ids = found.map { ItemID($0.label) }
        var styles: [[Float]?] = ids.map { id in inMemory?.withVector(id.rawValue) { Array($0) } }
        let missing = ids.indices.filter { styles[$0] == nil }
        if !missing.isEmpty {
            let read = try store.vectors(missing.map { ids[$0] }, space: Space.style.rawValue)
            for (i, vector) in zip(missing, read) { styles[i] = vector }
        }
        let hashes = try store.vectors(ids, space: Space.phash.rawValue, as: UInt8.self)
        var ranked: [Ranked] = []
        ranked.reserveCapacity(found.count)
        for (i, neighbour) in found.enumerated() {
            let (style, bits) = agreement(style: styles[i], phash: hashes[i], with: probe)
            ranked.append(
                Ranked(
                    label: neighbour.label,
                    terms: weights.terms(cnn: 1 - neighbour.distance, style: style, phashBits: bits)))
        }
        ranked.sort { ($0.terms.score, $1.label) > ($1.terms.score, $0.label) }
        return Array(ranked.prefix(k))
    }

    /// Why each of `items` matches `probe`, computed from the stored vectors (the EXPLAIN verb,
    /// the map's neighbour list), each space read in one transaction; nil for an item with no
    /// CNN vector.
    public func explain(_ items: [ItemID], against probe: Probe, store: VectorStore) throws -> [MatchTerms?] {
        let cnns = try store.vectors(items, space: Space.cnn.rawValue)
        let styles = try store.vectors(items, space: Space.style.rawValue)
        let hashes = try store.vectors(items, space: Space.phash.rawValue, as: UInt8.self)
        return items.indices.map { i in
            guard let cnn = cnns[i], cnn.count == probe.cnn.count else { return nil }
            let (style, bits) = agreement(style: styles[i], phash: hashes[i], with: probe)
            return weights.terms(cnn: dotProduct(probe.cnn, cnn), style: style, phashBits: bits)
        }
    }

    /// The style cosine and differing hash bits of an item's stored style vector and hash
    /// against a probe; a missing one agrees not at all.
    private func agreement(style: [Float]?, phash: [UInt8]?, with probe: Probe) -> (Float, Int) {
        var cosine: Float = 0
        if let style, style.count == probe.style.count {
            if let free = probe.colourFreeStyle {
                cosine = dotProduct(free, StyleDescriptor.colourFree(style))
            } else {
                cosine = dotProduct(probe.style, style)
            }
        }
        let bits = phash.map { zip(probe.phash, $0).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount } } ?? 64
        return (cosine, bits)
    }
}
