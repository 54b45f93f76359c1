/// A candidate during search: its distance to the query and its internal id.
struct Candidate {
    var distance: Float
    var id: UInt32
}

/// A binary heap over a buffer that is kept between searches, so a query allocates nothing.
/// `maxOnTop` picks a max-heap (the result set: worst on top) or a min-heap (the frontier).
struct CandidateHeap {
    private(set) var storage: UnsafeMutablePointer<Candidate>
    private(set) var capacity: Int
    private(set) var count = 0
    let maxOnTop: Bool

    init(maxOnTop: Bool, capacity: Int = 256) {
        self.maxOnTop = maxOnTop
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    func free() { storage.deallocate() }

    var isEmpty: Bool { count == 0 }
    var top: Candidate { storage[0] }

    @inline(__always)
    private func before(_ a: Candidate, _ b: Candidate) -> Bool {
        maxOnTop ? a.distance > b.distance : a.distance < b.distance
    }

    mutating func removeAll() { count = 0 }

    mutating func push(_ c: Candidate) {
        if count == capacity {
            let bigger = UnsafeMutablePointer<Candidate>.allocate(capacity: capacity * 2)
            bigger.moveInitialize(from: storage, count: count)
            storage.deallocate()
            storage = bigger
            capacity *= 2
        }
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) >> 1
            guard before(c, storage[parent]) else { break }
            storage[i] = storage[parent]
            i = parent
        }
        storage[i] = c
    }

    @discardableResult
    mutating func pop() -> Candidate {
        let result = storage[0]
        count -= 1
        guard count > 0 else { return result }
        let last = storage[count]
        var i = 0
        while true {
            let left = 2 * i + 1
            guard left < count else { break }
            let right = left + 1
            let child = right < count && before(storage[right], storage[left]) ? right : left
            guard before(storage[child], last) else { break }
            storage[i] = storage[child]
            i = child
        }
        storage[i] = last
        return result
    }

    /// Empties the heap into ascending order of distance.
    mutating func drainAscending() -> [Candidate] {
        var out = [Candidate](repeating: Candidate(distance: 0, id: 0), count: count)
        if maxOnTop {
            var i = count - 1
            while count > 0 { out[i] = pop(); i -= 1 }
        } else {
            var i = 0
            while count > 0 { out[i] = pop(); i += 1 }
        }
        return out
    }
}

/// Per-search scratch: the visited marks (an epoch counter, so they are cleared only when it
/// wraps), both heaps, and the query: normalised floats and the row they encode to. Pooled by the index, one per thread.
/// Used by one search at a time: the index's pool hands it out and takes it back under a lock.
final class SearchContext: @unchecked Sendable {
    private(set) var visited: UnsafeMutablePointer<UInt16>
    private(set) var visitedCapacity: Int
    private var epoch: UInt16 = 0
    var frontier = CandidateHeap(maxOnTop: false)
    var results = CandidateHeap(maxOnTop: true)
    /// The query as a row of the index's encoding, for the walk.
    let query: UnsafeMutableRawPointer
    /// The query normalised (for cosine), as floats, for exact re-ranking.
    let queryFloats: UnsafeMutableBufferPointer<Float>
    /// Unvisited neighbours of the node being expanded, gathered before their distances are taken.
    let pending: UnsafeMutablePointer<UInt32>

    init(capacity: Int, rowBytes: Int, dimension: Int, maxLinks: Int) {
        pending = .allocate(capacity: maxLinks + 1)
        visitedCapacity = max(capacity, 1)
        visited = .allocate(capacity: visitedCapacity)
        visited.initialize(repeating: 0, count: visitedCapacity)
        query = .allocate(byteCount: rowBytes, alignment: 64)
        query.initializeMemory(as: UInt8.self, repeating: 0, count: rowBytes)
        queryFloats = .allocate(capacity: dimension)
        queryFloats.initialize(repeating: 0)
    }

    deinit {
        visited.deallocate()
        query.deallocate()
        queryFloats.deallocate()
        pending.deallocate()
        frontier.free()
        results.free()
    }

    /// Starts a new search over `capacity` nodes.
    @inline(__always)
    func begin(capacity: Int) {
        if capacity > visitedCapacity {
            visited.deallocate()
            visitedCapacity = capacity + capacity / 2
            visited = .allocate(capacity: visitedCapacity)
            visited.initialize(repeating: 0, count: visitedCapacity)
            epoch = 0
        }
        epoch &+= 1
        if epoch == 0 {
            visited.update(repeating: 0, count: visitedCapacity)
            epoch = 1
        }
        frontier.removeAll()
        results.removeAll()
    }

    /// Marks `id` visited; returns false if it already was.
    @inline(__always)
    func visit(_ id: UInt32) -> Bool {
        if visited[Int(id)] == epoch { return false }
        visited[Int(id)] = epoch
        return true
    }
}
