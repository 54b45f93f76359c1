import Dispatch
import KindredCore
import Synchronization

/// What `compact` did.
public struct CompactionReport: Sendable, Equatable {
    /// Deleted nodes unlinked from the graph; their slots are reused by later inserts.
    public var detached = 0
    /// Link lists of live nodes re-chosen because they pointed at deleted nodes.
    public var relinked = 0
}

extension HNSWIndex {
    /// Unlinks every deleted node, repairing the graph around it: each live node that linked to a
    /// deleted one re-chooses its neighbours, with the paper's heuristic, from its live neighbours
    /// and the deleted neighbours' live neighbours. This keeps recall after many deletes, where
    /// tombstones alone would leave live nodes stranded behind dead ones. Searches wait while it
    /// runs; the work is spread over all cores.
    @discardableResult
    public func compact() -> CompactionReport {
        mutations.lockExclusive()
        defer { mutations.unlock() }
        let report: CompactionReport = storage.withExclusive {
            let n = slotsUsed.load(ordering: .relaxed)
            let deletedState = NodeState.deleted.rawValue
            var report = CompactionReport()
            guard (0..<n).contains(where: { states[$0].load(ordering: .relaxed) == deletedState }) else {
                return report
            }

            let relinked = Atomic<Int>(0)
            let chunk = 1024
            performConcurrently(iterations: (n + chunk - 1) / chunk) { block in
                // Only this block's nodes' lists are written; deleted nodes' lists are only read.
                for id in (block * chunk)..<min(n, (block + 1) * chunk) where isLive(UInt32(id)) {
                    for layer in 0...Int(levels[id]) where relink(UInt32(id), layer: layer) {
                        relinked.wrappingAdd(1, ordering: .relaxed)
                    }
                }
            }
            report.relinked = relinked.load(ordering: .relaxed)

            var freed: [UInt32] = []
            for id in 0..<n where states[id].load(ordering: .relaxed) == deletedState {
                linkList(UInt32(id), 0)[0].store(0, ordering: .relaxed)
                upperLinks[id]?.deallocate()
                upperLinks[id] = nil
                levels[id] = 0
                states[id].store(NodeState.free.rawValue, ordering: .relaxed)
                freed.append(UInt32(id))
            }
            report.detached = freed.count
            book.withLock { book in
                book.freeSlots += freed
                book.deletedCount = 0
            }
            let packed = entry.load(ordering: .relaxed)
            if packed != 0 && !isLive(UInt32(truncatingIfNeeded: packed)) {
                let best = (0..<n).filter { isLive(UInt32($0)) }.max { levels[$0] < levels[$1] }
                entry.store(best.map { UInt64(levels[$0] + 1) << 32 | UInt64($0) } ?? 0, ordering: .releasing)
            }
            logger.debug(
                "compacted index", metadata: ["detached": "\(report.detached)", "relinked": "\(report.relinked)"])
            return report
        }
        if report.detached > 0 { linkInUnreachable() }
        return report
    }

    /// Re-chooses `id`'s links on `layer` if any of them is deleted. Returns whether it did.
    private func relink(_ id: UInt32, layer: Int) -> Bool {
        let list = linkList(id, layer)
        let count = Int(list[0].load(ordering: .relaxed))
        let current = (0..<count).map { list[$0 + 1].load(ordering: .relaxed) }
        guard current.contains(where: { !isLive($0) }) else { return false }
        var pool = Set<UInt32>()
        for neighbor in current {
            if isLive(neighbor) {
                pool.insert(neighbor)
            } else if Int(levels[Int(neighbor)]) >= layer {
                let second = linkList(neighbor, layer)
                for j in 0..<Int(second[0].load(ordering: .relaxed)) {
                    let candidate = second[j + 1].load(ordering: .relaxed)
                    if candidate != id && isLive(candidate) { pool.insert(candidate) }
                }
            }
        }
        let base = row(id)
        let candidates = pool.map { Candidate(distance: distance(base, row($0)), id: $0) }.sorted {
            $0.distance < $1.distance
        }
        let chosen = selectNeighbors(candidates, count: maxLinks(onLayer: layer))
        for (j, neighbor) in chosen.enumerated() { list[j + 1].store(neighbor.id, ordering: .releasing) }
        list[0].store(UInt32(chosen.count), ordering: .releasing)
        return true
    }

    /// Why following a link on `layer` to `target` would leave the graph: a slot beyond the `slots`
    /// in use, or a node without that layer, whose links there are not allocated (a walk on an
    /// upper layer reads the target's own links on it). Nil when the link is safe to follow. The
    /// loader refuses a snapshot holding such a link (Fuzz/fuzz-snapshot found the descent
    /// following one into a missing block) and `checkIntegrity` reports one.
    func unsafeLink(onLayer layer: Int, to target: UInt32, slots: Int) -> String? {
        guard Int(target) < slots else { return "beyond \(slots) slots" }
        guard layer == 0 || Int(levels[Int(target)]) >= layer else {
            return "whose top layer is \(levels[Int(target)])"
        }
        return nil
    }

    /// Why free slot `id` is not free: a free slot has no links and no layer above 0, so the insert
    /// that reuses it starts afresh (from a snapshot whose "free" slot had an upper-layer block,
    /// the insert replaced the block and lost it: found by Fuzz/fuzz-snapshot). Nil when it is.
    func unsoundFreeSlot(_ id: Int) -> String? {
        guard levels[id] == 0, upperLinks[id] == nil, linkList(UInt32(id), 0)[0].load(ordering: .relaxed) == 0
        else { return "free slot \(id) still has links or layers" }
        return nil
    }

    /// Verifies the graph, as hnswlib's checkIntegrity does and more: every link in range, to a
    /// node on that layer, not to itself, not repeated, not to a freed slot; the entry point on the
    /// top layer; every live node reachable from it; the label map agreeing with node states.
    public func checkIntegrity() throws(IndexError) {
        let problems: [String] = storage.withExclusive {
            var problems: [String] = []
            let n = slotsUsed.load(ordering: .relaxed)
            var live = 0, deleted = 0
            for id in 0..<n {
                let state = states[id].load(ordering: .relaxed)
                if state == NodeState.live.rawValue { live += 1 }
                if state == NodeState.deleted.rawValue { deleted += 1 }
                if state == NodeState.free.rawValue {
                    if let fault = unsoundFreeSlot(id) { problems.append(fault) }
                    continue
                }
                for layer in 0...Int(levels[id]) {
                    let list = linkList(UInt32(id), layer)
                    let count = Int(list[0].load(ordering: .relaxed))
                    guard count <= maxLinks(onLayer: layer) else {
                        problems.append(
                            "node \(id) has \(count) links on layer \(layer), the limit is \(maxLinks(onLayer: layer))")
                        continue
                    }
                    var seen: [UInt32] = []
                    for j in 0..<count {
                        let target = list[j + 1].load(ordering: .relaxed)
                        if let fault = unsafeLink(onLayer: layer, to: target, slots: n) {
                            problems.append("node \(id) links on layer \(layer) to node \(target), \(fault)"); continue
                        }
                        if Int(target) == id { problems.append("node \(id) links to itself on layer \(layer)") }
                        if seen.contains(target) {
                            problems.append("node \(id) links to \(target) twice on layer \(layer)")
                        }
                        if states[Int(target)].load(ordering: .relaxed) == NodeState.free.rawValue {
                            problems.append("node \(id) links to freed slot \(target)")
                        }
                        seen.append(target)
                    }
                }
            }
            let (labelled, deletedCount) = book.withLock { ($0.slotByLabel.count, $0.deletedCount) }
            if labelled != live { problems.append("\(labelled) labels but \(live) live nodes") }
            if deletedCount != deleted {
                problems.append("\(deletedCount) deletions recorded but \(deleted) deleted nodes")
            }

            let packed = entry.load(ordering: .relaxed)
            if live > 0 {
                let start = Int(UInt32(truncatingIfNeeded: packed))
                guard packed != 0, start < n, states[start].load(ordering: .relaxed) != NodeState.free.rawValue else {
                    problems.append("no usable entry point")
                    return problems
                }
                if Int(levels[start]) != Int(packed >> 32) - 1 {
                    problems.append("entry point \(start) is not on the top layer")
                }
                let top =
                    (0..<n).filter { states[$0].load(ordering: .relaxed) != NodeState.free.rawValue }.map {
                        Int(levels[$0])
                    }.max() ?? 0
                if top != Int(packed >> 32) - 1 {
                    problems.append("top layer is \(Int(packed >> 32) - 1) but a node reaches \(top)")
                }
                var reached = [Bool](repeating: false, count: n)
                var stack = [start]
                reached[start] = true
                while let id = stack.popLast() {
                    let list = linkList(UInt32(id), 0)
                    for j in 0..<min(Int(list[0].load(ordering: .relaxed)), maxLinks0) {
                        let target = Int(list[j + 1].load(ordering: .relaxed))
                        if target < n && !reached[target] {
                            reached[target] = true
                            stack.append(target)
                        }
                    }
                }
                let unreachable = (0..<n).filter { !reached[$0] && isLive(UInt32($0)) }
                if !unreachable.isEmpty {
                    problems.append(
                        "\(unreachable.count) live nodes unreachable from the entry point, e.g. \(unreachable.prefix(5).map(String.init).joined(separator: ", "))"
                    )
                }
            }
            return problems
        }
        if !problems.isEmpty { throw .integrity(problems) }
    }
}

extension HNSWIndex {
    /// Links in every live node that no path from the entry point reaches on layer 0.
    ///
    /// The neighbour heuristic can prune a node out of every list that pointed at it; such a node is
    /// stored but never found. For each one, this searches the graph for its nearest reachable live
    /// nodes and adds it to the first of their lists with room (layer 0 holds 2·M, and the heuristic
    /// rarely fills it); if none has room, it replaces the farthest link of the nearest. Runs after
    /// a bulk build and after `compact`; the daemon runs it before each snapshot. Returns how many
    /// nodes it linked in.
    @discardableResult
    public func ensureReachable() -> Int {
        mutations.withExclusive { linkInUnreachable() }
    }

    /// `ensureReachable` for a caller holding `mutations` exclusively. Searches go on meanwhile:
    /// each link is one atomic store, published the way inserts publish theirs.
    @discardableResult
    func linkInUnreachable() -> Int {
        storage.withShared {
            let n = slotsUsed.load(ordering: .relaxed)
            let packed = entry.load(ordering: .relaxed)
            guard packed != 0 else { return 0 }
            var reached = [Bool](repeating: false, count: n)
            func flood(from start: Int) {
                guard !reached[start] else { return }
                reached[start] = true
                var stack = [start]
                while let id = stack.popLast() {
                    let list = linkList(UInt32(id), 0)
                    for j in 0..<Int(list[0].load(ordering: .relaxed)) {
                        let target = Int(list[j + 1].load(ordering: .relaxed))
                        if !reached[target] {
                            reached[target] = true
                            stack.append(target)
                        }
                    }
                }
            }
            flood(from: Int(UInt32(truncatingIfNeeded: packed)))
            var linked = 0
            for id in 0..<n where !reached[id] && isLive(UInt32(id)) {
                let found: [Candidate] = withContext { context in
                    searchLayer(
                        context, row(UInt32(id)), start: UInt32(truncatingIfNeeded: packed),
                        ef: max(parameters.efConstruction, 32), layer: 0,
                        accept: Predicate { $0 != UInt32(id) && reached[Int($0)] && self.isLive($0) }, kernel: rowKernel
                    )
                    return context.results.drainAscending()
                }
                guard let nearest = found.first else { continue }
                let host = found.first { Int(linkList($0.id, 0)[0].load(ordering: .relaxed)) < maxLinks0 } ?? nearest
                let list = linkList(host.id, 0)
                let count = Int(list[0].load(ordering: .relaxed))
                if count < maxLinks0 {
                    list[count + 1].store(UInt32(id), ordering: .releasing)
                    list[0].store(UInt32(count + 1), ordering: .releasing)
                } else {
                    // Replace the link to the host's farthest neighbour.
                    let base = row(host.id)
                    let farthest = (1...count).max {
                        distance(base, row(list[$0].load(ordering: .relaxed)))
                            < distance(base, row(list[$1].load(ordering: .relaxed)))
                    }!
                    list[farthest].store(UInt32(id), ordering: .releasing)
                }
                linked += 1
                flood(from: id)
            }
            if linked > 0 { logger.debug("linked in unreachable nodes", metadata: ["count": "\(linked)"]) }
            return linked
        }
    }
}
