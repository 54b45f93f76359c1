import Synchronization

extension HNSWIndex {
    /// The same graph with its rows in `encoding`: every node keeps its slot, label, level, state
    /// and links, and its row is written afresh from `exact` (or, for a label `exact` lacks, from
    /// this index's own row, decoded). Why: the links were chosen from the vectors, and another
    /// encoding changes each distance only by its rounding, so the graph is kept and a changed
    /// `[index] encoding` costs one read of the stored vectors instead of a rebuild: seconds, not
    /// the half hour a million items take to link. (What the walk then finds, per encoding, is in
    /// RESULTS.md, "int4 walk codes".)
    public func reencoded(as encoding: VectorEncoding, from exact: any ExactVectors) throws(IndexError) -> HNSWIndex {
        mutations.lockShared()
        defer { mutations.unlock() }
        storage.lockShared()
        defer { storage.unlock() }
        let n = slotsUsed.load(ordering: .acquiring)
        let copy = try HNSWIndex(
            dimension: dimension, metric: metric, parameters: parameters, encoding: encoding, capacity: max(n, 16),
            logger: logger)
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: copy.rowComponents)
        let decoded = UnsafeMutableBufferPointer<Float>.allocate(capacity: dimension)
        defer {
            scratch.deallocate()
            decoded.deallocate()
        }
        let words0 = maxLinks0 + 1
        for id in 0..<n {
            copy.labels[id] = labels[id]
            copy.levels[id] = levels[id]
            copy.states[id].store(states[id].load(ordering: .relaxed), ordering: .relaxed)
            for w in 0..<words0 {
                copy.links0[id * words0 + w].store(links0[id * words0 + w].load(ordering: .relaxed), ordering: .relaxed)
            }
            if let block = upperLinks[id] {
                let words = Int(levels[id]) * (maxLinks + 1)
                let mine = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: words)
                for w in 0..<words { (mine + w).initialize(to: Atomic(block[w].load(ordering: .relaxed))) }
                copy.upperLinks[id] = mine
            }
            let destination = copy.rows + id * copy.rowBytes
            guard states[id].load(ordering: .relaxed) != NodeState.free.rawValue else {
                destination.initializeMemory(as: UInt8.self, repeating: 0, count: copy.rowBytes)
                continue
            }
            let written =
                exact.withVector(labels[id]) { stored in
                    stored.count == dimension
                        && copy.prepare(stored, into: destination, scratch: scratch)
                } ?? false
            if !written {
                self.encoding.decode(rows + id * rowBytes, into: decoded, dimension: dimension)
                if !copy.prepare(UnsafeBufferPointer(decoded), into: destination, scratch: scratch) {
                    destination.initializeMemory(as: UInt8.self, repeating: 0, count: copy.rowBytes)
                }
            }
        }
        copy.slotsUsed.store(n, ordering: .relaxed)
        copy.entry.store(entry.load(ordering: .acquiring), ordering: .relaxed)
        let book = self.book.withLock { $0 }
        copy.book.withLock { $0 = book }
        return copy
    }
}
