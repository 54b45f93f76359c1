import KindredCore
import Testing

@testable import KindredIndex

/// `LabelTable` against `Dictionary`, its model: the same answers after every kind of change.
@Suite struct LabelTableTests {
    /// Random inserts, replacements and removals over labels that collide often (a few hundred
    /// values in tables of up to a few hundred buckets, so runs are long and removals shift them),
    /// checked against a dictionary after every step.
    @Test(arguments: [1, 2, 3])
    func answersAsADictionaryDoesThroughChanges(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var table = LabelTable<UInt32>()
        var model: [UInt64: UInt32] = [:]
        // Consecutive labels (as the catalog's ids), scattered ones, and the marker's own value.
        let pool: [UInt64] = Array(0..<200) + (0..<100).map { _ in random.next() } + [.max, .max - 1]
        for step in 0..<6_000 {
            let label = pool[Int(random.next() % UInt64(pool.count))]
            if random.next() % 3 == 0 {
                #expect(table.removeValue(forKey: label) == model.removeValue(forKey: label), "step \(step)")
            } else {
                let value = UInt32(truncatingIfNeeded: random.next())
                #expect(table.updateValue(value, forKey: label) == model.updateValue(value, forKey: label))
            }
            #expect(table.count == model.count)
            if step % 97 == 0 {
                #expect(table.values(of: pool) == pool.map { model[$0] })
                #expect(pool.allSatisfy { table[$0] == model[$0] })
            }
        }
        var seen: [UInt64: UInt32] = [:]
        table.forEach { label, value in seen[label] = value }
        #expect(seen == model)
        #expect(Set(table.labels) == Set(model.keys))
    }

    @Test func growsFromEmptyAndEmptiesAgain() {
        var table: LabelTable<UInt64> = [:]
        #expect(table.isEmpty && table[0] == nil && table.values(of: [0, .max]) == [nil, nil])
        for label in UInt64(0)..<10_000 { table[label] = label &* 7 }
        #expect(table.count == 10_000)
        #expect((UInt64(0)..<10_000).allSatisfy { table[$0] == $0 &* 7 })
        #expect(table[10_000] == nil)
        for label in UInt64(0)..<10_000 where label % 2 == 0 { table[label] = nil }
        #expect(table.count == 5_000)
        #expect((UInt64(0)..<10_000).allSatisfy { table[$0] == ($0 % 2 == 0 ? nil : $0 &* 7) })
        for label in UInt64(0)..<10_000 { table.removeValue(forKey: label) }
        #expect(table.isEmpty && table.labels.isEmpty)
    }

    @Test func isAValue() {
        let original: LabelTable<UInt32> = [1: 10, 2: 20]
        var copy = original
        copy[1] = 11
        copy[3] = 30
        #expect(original[1] == 10 && original[3] == nil && original.count == 2)
        #expect(copy[1] == 11 && copy[3] == 30 && copy.count == 3)
        let twice: [(UInt64, UInt32)] = [(5, 1), (5, 2)]
        #expect(LabelTable(twice)[5] == 2, "a label given twice keeps its last value")
    }
}
