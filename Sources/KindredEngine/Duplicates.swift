import COpenBLAS
import Foundation
import KindredAnalysis
import KindredCore
import KindredStore

/// Near-duplicate groups: items whose 64-bit perceptual hashes differ in at most `maxDistance` bits
/// and whose CNN embeddings agree (cosine ≥ `minimumCosine`), joined transitively.
///
/// Candidates come from multi-index hashing (Norouzi, Punjani and Fleet, CVPR 2012): the hash is
/// cut into m blocks, and two hashes within r = `maxDistance` bits differ in at most ⌊r/m⌋ bits in
/// at least one block (pigeonhole), so each block's buckets (items by the block's bits) meet only
/// the buckets whose keys are within ⌊r/m⌋ bits of theirs, not all n² pairs. `HashBlocks.choose`
/// picks m for the collection: r + 1 blocks need no probing, but each is then narrow (9 bits at
/// r = 6) and its buckets fill with the square of the collection, so past a few thousand items
/// fewer, wider blocks probed at a radius visit far fewer pairs.
public enum Duplicates {
    /// The most hash pairs a `near` search visits: about 10 s of one core. Past it a request is
    /// refused before any work, saying what to ask instead: a collection whose hashes crowd
    /// together (thousands of blank canvases) would otherwise hold a heavy worker for minutes.
    public static let pairBudget = 2_000_000_000

    /// A `near` search refused before it began: how many pairs it would visit.
    public struct TooManyPairs: Error, CustomStringConvertible {
        public let pairs: Int, maxDistance: Int
        public var description: String {
            let instead =
                maxDistance > 0
                ? "ask for fewer bits (6 finds near duplicates)"
                : "too many items share one perceptual hash; the exact and similar tiers do not compare hashes"
            return
                "max_distance=\(maxDistance) would compare \(pairs) pHash pairs in this collection, more than the \(Duplicates.pairBudget) a request may: \(instead)"
        }
    }

    /// The groups; `blockCount` overrides `HashBlocks.choose` (tests compare every cut), and must
    /// give at most 4,096 probes a block.
    public static func groups(
        store: VectorStore, maxDistance: Int, minimumCosine: Float = 0.85, blockCount: Int? = nil
    ) throws -> [[ItemID]] {
        let (ids, hashes) = try store.perceptualHashes()
        let blocks =
            blockCount.map { HashBlocks(count: $0, maxDistance: maxDistance) }
            ?? HashBlocks.choose(items: hashes.count, maxDistance: maxDistance)
        // Counted from each block's bucket sizes before any pair is compared; the comparing pass
        // then builds each block's buckets of rows in turn, so one block's are held at a time.
        let pairs = blocks.widths.indices.reduce(0) { total, block in
            total + blocks.visits(blocks.sizes(hashes, block: block), block: block)
        }
        guard pairs <= pairBudget else { throw TooManyPairs(pairs: pairs, maxDistance: maxDistance) }
        var sets = try store.withReader(space: StandardSpaces.cnn.name) { reader in
            var joiner = PairJoiner(
                hashes: hashes, maxDistance: maxDistance, minimumCosine: minimumCosine,
                vectors: BoundedVectors(reader: reader, ids: ids))
            defer { joiner.vectors.deallocate() }
            for block in blocks.widths.indices {
                for (rows, others) in blocks.meetings(blocks.buckets(hashes, block: block), block: block) {
                    if let others {
                        for i in rows { for j in others { joiner.compare(i, j) } }
                    } else if rows.count > 1 {
                        for a in rows.indices { for j in rows[(a + 1)...] { joiner.compare(rows[a], j) } }
                    }
                }
            }
            return joiner.sets
        }
        var grouped: [Int: [ItemID]] = [:]
        for i in ids.indices { grouped[sets.find(i), default: []].append(ids[i]) }
        return grouped.values.filter { $0.count > 1 }.map { $0.sorted() }.sorted { $0[0] < $1[0] }
    }

    /// Joins two rows when their hashes are within `maxDistance` bits and their CNN vectors
    /// within `minimumCosine`. A struct with mutating methods, not closures over the caller's
    /// variables, so the hot loop pays no dynamic exclusivity checks (they were a third of a
    /// 16-bit search's time).
    struct PairJoiner {
        let hashes: [UInt64]
        let maxDistance: Int
        let minimumCosine: Float
        var vectors: BoundedVectors
        var sets: UnionFind

        init(hashes: [UInt64], maxDistance: Int, minimumCosine: Float, vectors: BoundedVectors) {
            (self.hashes, self.maxDistance, self.minimumCosine) = (hashes, maxDistance, minimumCosine)
            self.vectors = vectors
            sets = UnionFind(count: hashes.count)
        }

        mutating func compare(_ i: Int, _ j: Int) {
            guard (hashes[i] ^ hashes[j]).nonzeroBitCount <= maxDistance else { return }
            let (a, b) = (sets.find(i), sets.find(j))
            guard a != b, let cosine = vectors.cosine(i, j), cosine >= minimumCosine else { return }
            sets.attach(a, to: b)
        }
    }

    /// How the 64 bits are cut for multi-index hashing: the blocks' widths, and the probes each
    /// block's buckets meet others by (every key within ⌊r/m⌋ bits of their own).
    public struct HashBlocks {
        let widths: [Int]
        /// Each block's shift, and the masks of up to ⌊r/m⌋ bits within its width (0 first).
        let shifts: [Int]
        let probes: [[UInt64]]

        init(count m: Int, maxDistance: Int) {
            precondition((1...64).contains(m) && maxDistance >= 0)
            precondition(Self.probeCount(width: 64 / m, radius: maxDistance / m) <= 4096, "too many probes a block")
            let widths = (0..<m).map { 64 / m + ($0 < 64 % m ? 1 : 0) }
            self.widths = widths
            shifts = widths.indices.map { block in widths[..<block].reduce(0, +) }
            probes = widths.map { Self.masks(width: $0, radius: maxDistance / m) }
        }

        /// The cut that visits the fewest pairs of `n` uniformly spread hashes, a probe (one
        /// dictionary look-up) costed as 25 pair checks: costed as 8, it chose 4 blocks probed at
        /// radius 1 for max_distance 6 at 100,000 items, which took 0.70 s where 7 unprobed blocks
        /// took 0.35 s; at 25 the probed cut is chosen from about 120,000 items. Cuts of more than
        /// 4,096 probes a block are not considered.
        static func choose(items n: Int, maxDistance: Int) -> HashBlocks {
            var best: (cost: Double, m: Int) = (.infinity, maxDistance + 1)
            for m in 1...min(maxDistance + 1, 64) {
                let widths = (0..<m).map { 64 / m + ($0 < 64 % m ? 1 : 0) }
                let counts = widths.map { probeCount(width: $0, radius: maxDistance / m) }
                guard counts.allSatisfy({ $0 <= 4096 }) else { continue }
                let cost = zip(widths, counts).reduce(0.0) { total, block in
                    total + Double(block.1) * (25 + Double(n) / pow(2, Double(block.0)))
                }
                if cost < best.cost { best = (cost, m) }
            }
            return HashBlocks(count: best.m, maxDistance: maxDistance)
        }

        /// Σ C(width, k) for k ≤ radius, saturating past 4,096.
        public static func probeCount(width: Int, radius: Int) -> Int {
            var total = 0, choose = 1
            for k in 0...min(radius, width) {
                total += choose
                if total > 4096 { return total }
                choose = choose * (width - k) / (k + 1)
            }
            return total
        }

        /// Every mask of `width` bits with at most `radius` set, 0 first.
        static func masks(width: Int, radius: Int) -> [UInt64] {
            var masks: [UInt64] = [0]
            func extend(_ mask: UInt64, from bit: Int, left: Int) {
                guard left > 0 else { return }
                for b in bit..<width {
                    let next = mask | 1 << UInt64(b)
                    masks.append(next)
                    extend(next, from: b + 1, left: left - 1)
                }
            }
            extend(0, from: 0, left: radius)
            return masks
        }

        /// Block `block`'s buckets: rows of `hashes` by the block's bits.
        func buckets(_ hashes: [UInt64], block: Int) -> [UInt64: [Int]] {
            let mask: UInt64 = widths[block] >= 64 ? ~0 : (1 << UInt64(widths[block])) - 1
            var buckets: [UInt64: [Int]] = [:]
            for (i, hash) in hashes.enumerated() {
                buckets[(hash >> UInt64(shifts[block])) & mask, default: []].append(i)
            }
            return buckets
        }

        /// Block `block`'s buckets meeting: each bucket with itself (others nil: its own pairs), and
        /// each pair of buckets whose keys are within ⌊r/m⌋ bits (each such pair once). The
        /// buckets may hold rows or only their counts.
        func meetings<Bucket>(_ buckets: [UInt64: Bucket], block: Int) -> Meetings<Bucket> {
            Meetings(buckets: buckets, probes: probes[block])
        }

        /// The pairs `meetings` hands out for buckets of these sizes.
        func visits(_ sizes: [UInt64: Int], block: Int) -> Int {
            var total = 0
            for (size, other) in meetings(sizes, block: block) {
                total += other.map { size * $0 } ?? size * (size - 1) / 2
            }
            return total
        }

        /// Block `block`'s bucket sizes: how many of `hashes` have each key.
        func sizes(_ hashes: [UInt64], block: Int) -> [UInt64: Int] {
            let mask: UInt64 = widths[block] >= 64 ? ~0 : (1 << UInt64(widths[block])) - 1
            var sizes: [UInt64: Int] = [:]
            for hash in hashes { sizes[(hash >> UInt64(shifts[block])) & mask, default: 0] += 1 }
            return sizes
        }
    }

    /// `HashBlocks.meetings`, walked without allocating: the bucket at `index` with itself, then
    /// with each probe's bucket whose key is above its own.
    struct Meetings<Bucket>: Sequence, IteratorProtocol {
        let buckets: [UInt64: Bucket]
        let probes: [UInt64]
        var index: Dictionary<UInt64, Bucket>.Index
        /// The next probe to try at `index`; -1 before the bucket has met itself.
        var probe = -1

        init(buckets: [UInt64: Bucket], probes: [UInt64]) {
            (self.buckets, self.probes, index) = (buckets, probes, buckets.startIndex)
        }

        mutating func next() -> (Bucket, Bucket?)? {
            while index != buckets.endIndex {
                let (key, bucket) = buckets[index]
                if probe < 0 {
                    probe = 1  // probes[0] is 0: the bucket itself
                    return (bucket, nil)
                }
                while probe < probes.count {
                    let other = key ^ probes[probe]
                    probe += 1
                    if other > key, let met = buckets[other] { return (bucket, met) }
                }
                buckets.formIndex(after: &index)
                probe = -1
            }
            return nil
        }
    }

    /// CNN vectors decoded for the pairs being compared, at most `capacity` at a time (20 MB):
    /// whatever the number of pairs the hashes let through, memory stays bounded, and a run of
    /// pairs sharing items (one bucket's) decodes each once.
    struct BoundedVectors {
        static let capacity = 4096
        let reader: VectorReader
        let ids: [ItemID]
        let dimension = StandardSpaces.cnn.dimension
        let slab: UnsafeMutableBufferPointer<Float>
        var slotOf: [Int: Int] = [:]

        init(reader: VectorReader, ids: [ItemID]) {
            self.reader = reader
            self.ids = ids
            slab = .allocate(capacity: Self.capacity * StandardSpaces.cnn.dimension)
        }

        func deallocate() { slab.deallocate() }

        /// Row `row`'s vector, decoded into the slab unless it is there; nil when it has none.
        private mutating func vector(_ row: Int) -> UnsafeMutablePointer<Float>? {
            if let slot = slotOf[row] { return slot < 0 ? nil : slab.baseAddress! + slot * dimension }
            let slot = slotOf.count
            let destination = UnsafeMutableBufferPointer(rebasing: slab[(slot * dimension)..<((slot + 1) * dimension)])
            guard reader.copyVector(ids[row].rawValue, into: destination) else {
                slotOf[row] = -1
                return nil
            }
            slotOf[row] = slot
            return destination.baseAddress
        }

        /// The cosine of rows `i` and `j` (the stored vectors are unit length); nil when either
        /// has no vector.
        mutating func cosine(_ i: Int, _ j: Int) -> Float? {
            if slotOf.count + 2 > Self.capacity { slotOf.removeAll(keepingCapacity: true) }
            guard let x = vector(i), let y = vector(j) else { return nil }
            return cblas_sdot(Int32(dimension), x, 1, y, 1)
        }
    }
}
