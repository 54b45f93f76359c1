import KindredCore
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredStore

/// The fused ranking SIMILAR answers by default: the CNN index's nearest `candidates`, re-ranked
/// by one score that adds the style space's, the perceptual hash's and the thumbnails' (how well
/// the query lies inside the candidate: `RegionMatch`) agreement to the CNN's (`FusionWeights`
/// owns the formula).
public struct Fusion: Sendable, Equatable {
    public var weights: FusionWeights
    /// How many CNN neighbours are re-ranked (at least k). 64, the index's default `ef_search`,
    /// makes the walk the pure CNN query's; 100 gained 0.0005 P@10 on the category dev set for
    /// 1.5× the walk (RESULTS.md, "Find similar").
    public var candidates: Int
    /// Query expansion for a query with no near copy in the collection; nil: none.
    public var expansion: QueryExpansion?
    /// Whether queries by a stored item (SIMILAR <target>, EXPLAIN, the map's neighbour list)
    /// add the region term too; queries by image always do. Off by default for its cost: at 100k
    /// items it more than doubled a SIMILAR's CPU (the walk and re-rank take about a millisecond,
    /// the thumbnails of ten candidates as long again), where a SIMILAR-IMAGE, which decodes and
    /// runs the CNN first, takes a few percent more (Benchmarks/RESULTS.md, "Crops found by their
    /// thumbnails").
    public var regionForItems: Bool

    public init(
        weights: FusionWeights = .standard, candidates: Int = 64, expansion: QueryExpansion? = .standard,
        regionForItems: Bool = false
    ) {
        self.weights = weights
        self.candidates = candidates
        self.expansion = expansion
        self.regionForItems = regionForItems
    }

    /// The ranking for a query by a stored item: this one, without the region term unless
    /// `regionForItems` (its weight then 0, so scores are what they were without it).
    public var forItems: Fusion {
        var fusion = self
        if !regionForItems { fusion.weights.region = 0 }
        return fusion
    }

    /// Average query expansion (Chum et al., 2007), applied where it helps: a query whose nearest
    /// CNN candidate is below `below` (no near copy in the collection) has its CNN vector replaced
    /// by the unit mean of itself and the fused ranking's best `neighbours`, and the same
    /// candidates are scored again; no second walk. Expanding a query that has a near copy pulls
    /// it toward the copy's look-alikes, so such a query keeps its plain ranking. Chosen on the
    /// dev sets' tuning half (RESULTS.md, "Find similar": +0.0039 P@10 on held-out categories,
    /// copies unchanged in all).
    public struct QueryExpansion: Sendable, Equatable {
        public var neighbours: Int
        public var below: Float

        public static let standard = QueryExpansion(neighbours: 2, below: 0.9)

        public init(neighbours: Int, below: Float) {
            self.neighbours = neighbours
            self.below = below
        }
    }

    /// What a query is compared by: its CNN vector, style vector, perceptual hash and square
    /// thumbnail (`StandardSpaces.thumbnail`; nil for an item stored before thumbnails were). A
    /// colourless query (`StyleDescriptor.isColourless`: a greyscale copy, a black-and-white
    /// drawing) compares styles by their colour-free parts only, so a greyscale copy is not held
    /// against its coloured original for the colour it lost (RESULTS.md, "Copy detection").
    public struct Probe: Sendable {
        public var cnn: [Float]
        public var style: [Float]
        public var phash: [UInt8]
        public var thumbnail: [UInt8]?
        /// The picture the thumbnail was made of, for a query by image: the region term's
        /// templates are shrunk from it (`RegionMatch`); nil for a stored item's query.
        public var picture: RGBImage?
        /// The style vector's colour-free parts when the query is colourless; nil otherwise.
        let colourFreeStyle: [Float]?

        public init(cnn: [Float], style: [Float], phash: [UInt8], thumbnail: [UInt8]?, picture: RGBImage? = nil) {
            self.cnn = cnn
            self.style = style
            self.phash = phash
            self.thumbnail = thumbnail
            self.picture = picture
            colourFreeStyle = StyleDescriptor.isColourless(style) ? StyleDescriptor.colourFree(style) : nil
        }

        public var isColourless: Bool { colourFreeStyle != nil }

        /// The match of this query's thumbnail against candidates'; nil without one.
        func regionMatch() -> RegionMatch? {
            thumbnail.flatMap { RegionMatch(thumbnail: $0, side: Space.thumbnailSide, source: picture) }
        }
    }

    /// An item's stored probe for this ranking; nil when a space has no record for it. `styles`
    /// (the live style index) and `hashes` answer from memory where they hold the item, as they
    /// do for `rerank`'s candidates; the CNN vector is always the store's.
    public func probe(
        of item: ItemID, store: VectorStore, styles: (any ExactVectors)? = nil, hashes: LiveHashes? = nil
    ) throws -> Probe? {
        guard let cnn = try store.vector(item, space: Space.cnn.rawValue),
            let style = try styles?.withVector(item.rawValue, { Array($0) })
                ?? store.vector(item, space: Space.style.rawValue),
            let phash = try hashes?.hashes(of: [item.rawValue])[0].map(PerceptualHash.bytes)
                ?? store.vector(item, space: Space.phash.rawValue, as: UInt8.self)
        else { return nil }
        return Probe(cnn: cnn, style: style, phash: phash, thumbnail: try probeThumbnail(of: item, store: store))
    }

    /// An item's stored thumbnail when this ranking compares thumbnails (the region term weighs
    /// something); nil otherwise, without reading it.
    public func probeThumbnail(of item: ItemID, store: VectorStore) throws -> [UInt8]? {
        weights.region > 0 ? try store.vector(item, space: Space.thumb.rawValue, as: UInt8.self) : nil
    }

    /// A ranked answer: the neighbour, and its terms.
    public struct Ranked: Sendable {
        public var label: UInt64
        public var terms: MatchTerms
        /// Whether the `cnn` term is the cosine with the expanded query (`QueryExpansion`)
        /// rather than with the query's own vector.
        public var expanded = false
    }

    /// Re-ranks the CNN neighbours `found` by the fused score, comparing each one's style vector
    /// and hash; returns the best `k`. A candidate missing a style vector or hash (none should be:
    /// both are required spaces) scores 0 for that term. `styles` (the live style index) and
    /// `hashes` answer from memory; a candidate they lack is read from the store.
    ///
    /// A candidate's distance in `found` is exact when `cnns` holds its CNN vector (as
    /// `LiveIndex.searchRecording` returns them) and otherwise may be the index's approximation
    /// (`codes`: the CNN index, whose distances the walk measured). Only what can reach the answer
    /// is made exact: the best `exactRanks(k)` of each ranking have their vectors read from the
    /// store (in one transaction a round) and their cosines recomputed, until those ranks hold
    /// exact scores only; every row returned has them. The query expansion scores the candidates
    /// read so far exactly and the rest by `codes` (by the store without it), the same way.
    public func rerank(
        _ found: [Neighbor], probe: Probe, k: Int, store: VectorStore, styles inMemory: (any ExactVectors)? = nil,
        hashes heldHashes: LiveHashes? = nil, cnns held: (any ExactVectors)? = nil, codes: HNSWIndex? = nil
    ) throws -> [Ranked] {
        let ids = found.map { ItemID($0.label) }
        let agreements = try agreements(ids, with: probe, styles: inMemory, hashes: heldHashes, store: store)
        var regions = RegionTerms(ids, probe: probe, weights: weights)
        var cnns = CandidateVectors(ids, held: held, store: store)
        let checked = max(k, Self.regionChecked), exact = Self.exactRanks(k: k)
        func ranking(
            _ cosines: inout [Float], exactly cosine: (UnsafeBufferPointer<Float>) -> Float, expanded: Bool
        ) throws -> [Ranked] {
            while true {
                let ranked = found.indices.map { i in
                    Ranked(
                        label: found[i].label,
                        terms: weights.terms(
                            cnn: cosines[i], style: agreements[i].0, phashBits: agreements[i].1,
                            region: regions.correlation[i]),
                        expanded: expanded)
                }
                let order = found.indices.sorted {
                    (ranked[$0].terms.score, ranked[$1].label) > (ranked[$1].terms.score, ranked[$0].label)
                }
                // Until the best `exact` all have exact cosines, and the best `checked` their
                // thumbnails compared: either may move a candidate past those above it.
                let approximate = order.prefix(exact).filter { !cnns.isExact[$0] }
                if !approximate.isEmpty {
                    try cnns.read(approximate)
                    for i in approximate { cosines[i] = cnns.withVector(i, cosine) ?? cosines[i] }
                    continue
                }
                if try !regions.measure(order.prefix(checked), store: store) { return order.map { ranked[$0] } }
            }
        }
        var plainCosines = found.map { 1 - $0.distance }
        var unitQuery = probe.cnn
        normalizeRows(&unitQuery, dimension: unitQuery.count)
        let plain = try ranking(&plainCosines, exactly: { Self.cosine(unitQuery, $0) }, expanded: false)
        // The nearest candidate by an exact cosine: the ones not read are not the nearest (the
        // walk read the nearest by the codes), and their approximations could straddle `below`.
        let exactCosines = found.indices.filter { cnns.isExact[$0] }.map { plainCosines[$0] }
        guard let expansion, expansion.neighbours > 0,
            let nearest = exactCosines.max() ?? plainCosines.max(), nearest < expansion.below
        else { return Array(plain.prefix(k)) }
        // The expanded query from the best neighbours' vectors, which the ranking made exact.
        var query = probe.cnn
        for best in plain.prefix(expansion.neighbours) {
            guard let i = found.firstIndex(where: { $0.label == best.label }) else { continue }
            query.withUnsafeMutableBufferPointer { sum in
                _ = cnns.withVector(i) { vector in
                    guard vector.count == sum.count else { return }
                    for d in 0..<sum.count { sum[d] += vector[d] }
                }
            }
        }
        normalizeRows(&query, dimension: query.count)
        // The codes measure only the candidates without an exact vector: the others' cosines are
        // taken exactly below.
        let unread = found.indices.filter { !cnns.isExact[$0] }
        var byCodes = [Float?](repeating: nil, count: found.count)
        if let codes, !unread.isEmpty {
            for (i, distance) in zip(unread, try codes.distances(from: query, to: unread.map { found[$0].label })) {
                byCodes[i] = distance
            }
        }
        try cnns.read(unread.filter { byCodes[$0] == nil })
        let dot = { (vector: UnsafeBufferPointer<Float>) in
            query.withUnsafeBufferPointer { vector.count == $0.count ? dotProduct($0, vector) : 0 }
        }
        var cosines = found.indices.map { i in
            cnns.isExact[i] ? cnns.withVector(i, dot) ?? 0 : byCodes[i].map { 1 - $0 } ?? 0
        }
        let expanded = try ranking(&cosines, exactly: dot, expanded: true)
        return Array(expanded.prefix(k))
    }

    /// How many of a ranking's best have exact CNN cosines before it is answered: twice the
    /// answer, so that a candidate just below it whose approximate cosine (an int8 code's, within
    /// about 0.002 of the exact one) understated it cannot belong above the last row returned.
    public static func exactRanks(k: Int) -> Int { 2 * k }

    /// A unit query's cosine with a stored vector (which the store keeps at unit length, up to
    /// float16's rounding: divided by its length, as the walk's exact re-rank does).
    private static func cosine(_ unitQuery: [Float], _ vector: UnsafeBufferPointer<Float>) -> Float {
        guard vector.count == unitQuery.count else { return 0 }
        let norm = dotProduct(vector, vector).squareRoot()
        return norm > 0 ? unitQuery.withUnsafeBufferPointer { dotProduct($0, vector) } / norm : 0
    }

    /// The candidates' CNN vectors: those `held` in memory (the walk's exact re-rank kept them, or
    /// a float index's rows), and those read from the store since. `isExact`: whether candidate
    /// i's vector is known (or was looked for in the store and is not there: it stays as it is).
    private struct CandidateVectors {
        let ids: [ItemID]
        let held: (any ExactVectors)?
        let store: VectorStore
        var read: [[Float]?]
        var isExact: [Bool]

        init(_ ids: [ItemID], held: (any ExactVectors)?, store: VectorStore) {
            self.ids = ids
            self.held = held
            self.store = store
            read = ids.map { _ in nil }
            var isExact = [Bool](repeating: false, count: ids.count)
            held?.forEachVector(ids.map(\.rawValue)) { i, vector in isExact[i] = vector != nil }
            self.isExact = isExact
        }

        /// Reads candidates `indices` from the store, in one transaction.
        mutating func read(_ indices: [Int]) throws {
            guard !indices.isEmpty else { return }
            for (i, vector) in zip(indices, try store.vectors(indices.map { ids[$0] }, space: Space.cnn.rawValue)) {
                read[i] = vector
                isExact[i] = true
            }
        }

        /// Calls `body` with candidate `i`'s vector; nil when neither memory nor the store has one.
        func withVector<R>(_ i: Int, _ body: (UnsafeBufferPointer<Float>) -> R) -> R? {
            if let vector = read[i] { return vector.withUnsafeBufferPointer(body) }
            return held?.withVector(ids[i].rawValue, body)
        }
    }

    /// Why each of `items` matches `probe`, computed from the stored vectors (the EXPLAIN verb,
    /// the map's neighbour list), each space read in one transaction; nil for an item with no
    /// CNN vector.
    public func explain(_ items: [ItemID], against probe: Probe, store: VectorStore) throws -> [MatchTerms?] {
        let cnns = try store.vectors(items, space: Space.cnn.rawValue)
        let agreements = try agreements(items, with: probe, styles: nil, hashes: nil, store: store)
        var regions = RegionTerms(items, probe: probe, weights: weights)
        _ = try regions.measure(items.indices, store: store)
        return items.indices.map { i in
            guard let cnn = cnns[i], cnn.count == probe.cnn.count else { return nil }
            let (style, bits) = agreements[i]
            return weights.terms(
                cnn: dotProduct(probe.cnn, cnn), style: style, phashBits: bits, region: regions.correlation[i])
        }
    }

    /// How many of a ranking's best have their thumbnails compared with the query's (the region
    /// term), at least k. Once the templates came from a query's own pixels, the best 16 found
    /// crops and greyscale copies the best 8 missed, on the tuning copy set and the held-out one
    /// alike (all copies 0.985 → 0.9862 on the one, 0.9856 → 0.9862 on the other; the best 32
    /// added one crop on one set), for about 0.6 ms more a SIMILAR-IMAGE, with the wider walk
    /// (Benchmarks/RESULTS.md, "Crops matched from the query's own pixels"); a comparison costs
    /// tens of microseconds, more than the rest of a candidate's re-ranking.
    public static let regionChecked = 16

    /// The region term's correlations, measured for the candidates asked (`RegionMatch` on the
    /// stored thumbnails, read in one transaction a call); nil where not measured, or where either
    /// side has no thumbnail. With a zero weight nothing is read or measured.
    private struct RegionTerms {
        let ids: [ItemID]
        let match: RegionMatch?
        var correlation: [Float?]
        var measured: [Bool]

        init(_ ids: [ItemID], probe: Probe, weights: FusionWeights) {
            self.ids = ids
            match = weights.region > 0 ? probe.regionMatch() : nil
            correlation = ids.map { _ in nil }
            measured = ids.map { _ in false }
        }

        /// Measures the candidates `indices` not measured yet; returns whether there were any.
        mutating func measure(_ indices: some Swift.Collection<Int>, store: VectorStore) throws -> Bool {
            guard let match else { return false }
            let new = indices.filter { !measured[$0] }
            guard !new.isEmpty else { return false }
            let thumbnails = try store.vectors(new.map { ids[$0] }, space: Space.thumb.rawValue, as: UInt8.self)
            for (i, thumbnail) in zip(new, thumbnails) {
                measured[i] = true
                correlation[i] = thumbnail.flatMap { match.correlation(with: $0, side: Space.thumbnailSide) }
            }
            return true
        }
    }

    /// Each candidate's style cosine and differing hash bits against `probe`: from `styles` and
    /// `hashes` where they hold the candidate (each asked once for all of them), else from the
    /// store, the rest in one transaction a space.
    private func agreements(
        _ ids: [ItemID], with probe: Probe, styles: (any ExactVectors)?, hashes: LiveHashes?, store: VectorStore
    ) throws -> [(Float, Int)] {
        var cosines = [Float?](repeating: nil, count: ids.count)
        styles?.forEachVector(ids.map(\.rawValue)) { i, style in
            cosines[i] = style.map { styleCosine($0, with: probe) }
        }
        let unheldStyles = ids.indices.filter { cosines[$0] == nil }
        if !unheldStyles.isEmpty {
            let read = try store.vectors(unheldStyles.map { ids[$0] }, space: Space.style.rawValue)
            for (i, style) in zip(unheldStyles, read) {
                cosines[i] = style?.withUnsafeBufferPointer { styleCosine($0, with: probe) } ?? 0
            }
        }
        var words = hashes?.hashes(of: ids.map(\.rawValue)) ?? ids.map { _ in nil }
        let unheldHashes = ids.indices.filter { words[$0] == nil }
        if !unheldHashes.isEmpty {
            let read = try store.vectors(unheldHashes.map { ids[$0] }, space: Space.phash.rawValue, as: UInt8.self)
            for (i, hash) in zip(unheldHashes, read) { words[i] = hash.flatMap(PerceptualHash.word) }
        }
        let probeWord = PerceptualHash.word(probe.phash)
        return ids.indices.map { i in
            let bits = probeWord.flatMap { query in words[i].map { PerceptualHash.distance(query, $0) } } ?? 64
            return (cosines[i] ?? 0, bits)
        }
    }

    /// The style cosine of a stored style vector against a probe's (of its colour-free parts for a
    /// colourless probe); a vector of another length agrees not at all.
    private func styleCosine(_ style: UnsafeBufferPointer<Float>, with probe: Probe) -> Float {
        guard style.count == probe.style.count else { return 0 }
        guard let free = probe.colourFreeStyle else {
            return probe.style.withUnsafeBufferPointer { dotProduct($0, style) }
        }
        return dotProduct(free, StyleDescriptor.colourFree(Array(style)))
    }
}
