import Synchronization

/// How far `HNSWIndex.build` is, for another thread to read while it runs (kindredd's STATUS
/// during a first start, which at a million 1280-d items takes tens of minutes).
public final class BuildProgress: Sendable {
    private let rows = Atomic<Int>(0)
    private let inserted = Atomic<Int>(0)

    public init() {}

    /// Rows inserted so far, and the rows the build inserts in all (0 until it starts).
    public var counts: (inserted: Int, rows: Int) {
        (inserted.load(ordering: .relaxed), rows.load(ordering: .relaxed))
    }

    func start(rows count: Int) {
        inserted.store(0, ordering: .relaxed)
        rows.store(count, ordering: .relaxed)
    }

    /// Counts one more row inserted; returns how many are.
    func advance() -> Int { inserted.wrappingAdd(1, ordering: .relaxed).newValue }
}
