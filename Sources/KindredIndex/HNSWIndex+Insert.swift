import Dispatch
import KindredCore
import Logging
import Synchronization

extension HNSWIndex {
    /// Adds `vector` under `label`. A label already present is updated: its old node is deleted and
    /// the new vector linked afresh, so the node's neighbours reflect the new vector.
    public func insert(_ vector: UnsafeBufferPointer<Float>, label: UInt64) throws(IndexError) {
        guard vector.count == dimension else { throw .dimensionMismatch(expected: dimension, got: vector.count) }
        mutations.lockShared()
        defer { mutations.unlock() }
        storage.lockShared()
        var claimed = claimSlot()
        while claimed == nil {
            storage.unlock()
            storage.withExclusive {
                if slotsUsed.load(ordering: .relaxed) >= capacity { grow(to: capacity * 2) }
            }
            storage.lockShared()
            claimed = claimSlot()
        }
        defer { storage.unlock() }
        let id = claimed!
        let prepared = withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) {
            prepare(vector, into: row(id), scratch: $0)
        }
        guard prepared else {
            book.withLock { $0.freeSlots.append(id) }
            throw .invalidParameter(
                name: "vector", value: "label \(label)",
                requirement: metric == .cosine
                    ? "a cosine vector must be finite and not all zeros" : "every component must be finite")
        }
        labels[Int(id)] = label
        let level = randomLevel(for: id, salt: 0)
        levels[Int(id)] = UInt8(level)
        linkList(id, 0)[0].store(0, ordering: .releasing)
        if level > 0 {
            let words = level * (maxLinks + 1)
            let block = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: words)
            for i in 0..<words { (block + i).initialize(to: Atomic(0)) }
            upperLinks[Int(id)] = block
        }
        book.withLock { book in
            if let old = book.slotByLabel[label] {
                states[Int(old)].store(NodeState.deleted.rawValue, ordering: .releasing)
                book.deletedCount += 1
            }
            book.slotByLabel[label] = id
        }
        states[Int(id)].store(NodeState.live.rawValue, ordering: .releasing)

        let packed = entry.load(ordering: .acquiring)
        if packed == 0 || level > Int(packed >> 32) - 1 {
            topLayerLock.withLock { _ in link(id, level: level) }
        } else {
            link(id, level: level)
        }
    }

    public func insert(_ vector: [Float], label: UInt64) throws(IndexError) {
        try vector.withUnsafeBufferPointer { (buffer) throws(IndexError) in try insert(buffer, label: label) }
    }

    /// Removes `label`. Its node is never returned again; it keeps guiding searches until
    /// `compact` unlinks it. Returns whether the label was present.
    @discardableResult
    public func remove(label: UInt64) -> Bool {
        mutations.withShared {
            book.withLock { book in
                guard let id = book.slotByLabel.removeValue(forKey: label) else { return false }
                states[Int(id)].store(NodeState.deleted.rawValue, ordering: .releasing)
                book.deletedCount += 1
                return true
            }
        }
    }

    /// A slot for a new node: a freed one, else the next unused one; nil when full.
    private func claimSlot() -> UInt32? {
        if let free = book.withLock({ $0.freeSlots.popLast() }) { return free }
        var used = slotsUsed.load(ordering: .relaxed)
        while used < capacity {
            let (exchanged, original) = slotsUsed.compareExchange(
                expected: used, desired: used + 1, ordering: .acquiringAndReleasing)
            if exchanged { return UInt32(used) }
            used = original
        }
        return nil
    }

    /// INSERT of the paper, from the descent onwards: greedy through the layers above the node's,
    /// then on each of its layers a search with efConstruction, the heuristic's choice of M
    /// neighbours, and links both ways.
    private func link(_ id: UInt32, level: Int) {
        let query = row(id)
        let packed = entry.load(ordering: .acquiring)
        guard packed != 0 else {
            entry.store(UInt64(level + 1) << 32 | UInt64(id), ordering: .releasing)
            return
        }
        var current = UInt32(truncatingIfNeeded: packed)
        let top = Int(packed >> 32) - 1
        var currentDistance = distance(query, row(current))
        if level < top {
            for layer in Swift.stride(from: top, to: level, by: -1) {
                (current, currentDistance) = greedyClosest(
                    query, from: current, distance: currentDistance, layer: layer, kernel: rowKernel)
            }
        }
        // Choose the neighbours on every layer first, then write the node's own lists, and only
        // then link back to it: a node is never reachable on one layer while another of its lists
        // is still empty, so a concurrent search never descends into a dead end.
        var chosenByLayer: [(layer: Int, neighbors: [Candidate])] = []
        withContext { context in
            for layer in Swift.stride(from: min(level, top), through: 0, by: -1) {
                searchLayer(
                    context, query, start: current, ef: parameters.efConstruction, layer: layer, accept: AllNodes(),
                    kernel: rowKernel)
                let found = context.results.drainAscending().filter { $0.id != id }
                guard !found.isEmpty else { continue }
                chosenByLayer.append((layer, selectNeighbors(found, count: maxLinks)))
                current = found[0].id
            }
        }
        nodeLocks.lock(Int(id))
        for (layer, chosen) in chosenByLayer {
            let list = linkList(id, layer)
            for (j, neighbor) in chosen.enumerated() { list[j + 1].store(neighbor.id, ordering: .releasing) }
            list[0].store(UInt32(chosen.count), ordering: .releasing)
        }
        nodeLocks.unlock(Int(id))
        for (layer, chosen) in chosenByLayer {
            for neighbor in chosen { addLink(from: neighbor.id, to: id, distance: neighbor.distance, layer: layer) }
        }
        if level > top { entry.store(UInt64(level + 1) << 32 | UInt64(id), ordering: .releasing) }
    }

    /// SELECT-NEIGHBORS-HEURISTIC of the paper (without extending or keeping pruned candidates, as
    /// hnswlib does): take candidates nearest first, keeping one only if it is closer to the base
    /// than to every neighbour already kept. `candidates` is in ascending order of distance.
    func selectNeighbors(_ candidates: [Candidate], count: Int) -> [Candidate] {
        guard candidates.count > count else { return candidates }
        var kept: [Candidate] = []
        kept.reserveCapacity(count)
        for candidate in candidates {
            if kept.count == count { break }
            let v = row(candidate.id)
            if kept.allSatisfy({ distance(v, row($0.id)) >= candidate.distance }) { kept.append(candidate) }
        }
        return kept
    }

    /// Adds `new` to `node`'s list on `layer`, re-choosing the list with the heuristic when full.
    private func addLink(from node: UInt32, to new: UInt32, distance newDistance: Float, layer: Int) {
        nodeLocks.lock(Int(node))
        defer { nodeLocks.unlock(Int(node)) }
        let list = linkList(node, layer)
        let n = Int(list[0].load(ordering: .relaxed))
        let limit = maxLinks(onLayer: layer)
        if n < limit {
            list[n + 1].store(new, ordering: .releasing)
            list[0].store(UInt32(n + 1), ordering: .releasing)
            return
        }
        let base = row(node)
        var candidates = [Candidate(distance: newDistance, id: new)]
        candidates.reserveCapacity(n + 1)
        for j in 1..<(n + 1) {
            let other = list[j].load(ordering: .relaxed)
            candidates.append(Candidate(distance: distance(base, row(other)), id: other))
        }
        candidates.sort { $0.distance < $1.distance }
        let chosen = selectNeighbors(candidates, count: limit)
        for (j, neighbor) in chosen.enumerated() { list[j + 1].store(neighbor.id, ordering: .releasing) }
        list[0].store(UInt32(chosen.count), ordering: .releasing)
    }

    /// Builds an index over the rows of `matrix` on `threads` threads; row i gets label
    /// `labels[i]`, or i when no labels are given. `progress` counts the rows inserted as they
    /// are; a build of 100,000 rows or more also logs each tenth.
    public static func build(
        _ matrix: Matrix, labels: [UInt64]? = nil, metric: Metric, parameters: HNSWParameters = HNSWParameters(),
        encoding: VectorEncoding = .float32, threads: Int, progress: BuildProgress = BuildProgress(), logger: Logger
    ) throws(IndexError) -> HNSWIndex {
        if let labels, labels.count != matrix.rows {
            throw .invalidParameter(
                name: "labels", value: "\(labels.count)", requirement: "give one label per row (\(matrix.rows))")
        }
        guard threads >= 1 else {
            throw .invalidParameter(name: "threads", value: "\(threads)", requirement: "use at least one thread")
        }
        let index = try HNSWIndex(
            dimension: matrix.columns, metric: metric, parameters: parameters, encoding: encoding,
            capacity: max(matrix.rows, 16), logger: logger)
        let next = Atomic<Int>(0)
        let failure = Mutex<IndexError?>(nil)
        progress.start(rows: matrix.rows)
        let tenth = matrix.rows >= 100_000 ? matrix.rows / 10 : Int.max
        performConcurrently(iterations: threads) { _ in
            while true {
                let row = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard row < matrix.rows, failure.withLock({ $0 == nil }) else { return }
                matrix.withRow(row) { vector in
                    do throws(IndexError) {
                        try index.insert(vector, label: labels?[row] ?? UInt64(row))
                    } catch {
                        failure.withLock { $0 = $0 ?? error }
                        return
                    }
                    let inserted = progress.advance()
                    if inserted % tenth == 0 {
                        logger.info(
                            "building the index",
                            metadata: [
                                "inserted": "\(inserted)", "rows": "\(matrix.rows)", "dimension": "\(matrix.columns)",
                            ])
                    }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        index.ensureReachable()
        return index
    }
}
