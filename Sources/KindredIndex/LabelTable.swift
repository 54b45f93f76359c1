import CKindredKernels

/// Labels to integers (an index node's slot, an item's perceptual hash) in one open-addressed
/// array of (label, value) pairs, probed linearly.
///
/// Why not `Dictionary`: a fused SIMILAR looks up each of its 64 candidates' labels in tables of
/// every item (the style index's slots, the held hashes), and those lookups missed the cache:
/// `Dictionary` keeps its occupancy bitmap, keys and values in three separate arrays and hashes a
/// `UInt64` with seeded SipHash, so a lookup is a chain of dependent misses (4.7 % of a fused
/// query's samples, RESULTS.md, "The fused ranking's reads from memory"). Here a pair shares a
/// cache line, the hash is one multiplication, and `values(of:)` prefetches every label's first
/// bucket before probing any, so a batch's misses overlap. No Swift package on the mirror offers
/// a table with either property.
///
/// Fibonacci hashing (the label times 2⁶⁴/φ, its top bits) spreads consecutive labels, the
/// catalog's item ids, evenly. Labels are never chosen by a client (the catalog numbers items;
/// offline indexes number rows), so a seeded hash against flooding buys nothing here.
///
/// A value type with copy-on-write storage, as `Dictionary` is; at most half full, so a probe
/// rarely reads past its first bucket. Removal shifts the following run back (no tombstones).
public struct LabelTable<Value: FixedWidthInteger & Sendable>: Sendable {
    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline var label: UInt64
        @usableFromInline var value: Value

        @inlinable init(label: UInt64, value: Value) {
            self.label = label
            self.value = value
        }
    }

    /// The marker of an empty bucket. `UInt64.max` as a label is held apart, in `maxLabelValue`.
    @usableFromInline static var empty: UInt64 { .max }

    /// A power of two of buckets (at least 8); `shift` = 64 − log2 of it.
    @usableFromInline var buckets: [Entry]
    @usableFromInline var shift: UInt64
    @usableFromInline var maxLabelValue: Value?
    public private(set) var count: Int

    public init(minimumCapacity: Int = 0) {
        let (buckets, shift) = Self.bucketCount(for: minimumCapacity)
        self.buckets = Self.emptyBuckets(buckets)
        self.shift = shift
        count = 0
    }

    /// A table of `pairs`; a label given twice keeps its last value.
    public init(_ pairs: some Sequence<(UInt64, Value)>) {
        self.init(minimumCapacity: pairs.underestimatedCount)
        for (label, value) in pairs { updateValue(value, forKey: label) }
    }

    public var isEmpty: Bool { count == 0 }

    /// The bucket count for `n` labels at most half full, and the hash's shift for it.
    private static func bucketCount(for n: Int) -> (Int, UInt64) {
        var bits = 3
        while (1 << bits) / 2 < n { bits += 1 }
        return (1 << bits, UInt64(64 - bits))
    }

    /// An empty bucket's value is never read: a bucket's value is read only when its label is a
    /// live one.
    private static func emptyBuckets(_ n: Int) -> [Entry] {
        [Entry](repeating: Entry(label: empty, value: 0), count: n)
    }

    /// `label`'s first bucket in a table whose hash shifts by `shift`.
    @inlinable @inline(__always)
    static func home(_ label: UInt64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (label &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The bucket holding `label`, or else the empty bucket where its probe ends (where it would
    /// go): the one probe loop every lookup, insert and move shares.
    @inlinable @inline(__always)
    static func probe(
        _ label: UInt64, in entries: UnsafeBufferPointer<Entry>, shift: UInt64
    ) -> (
        bucket: Int, found: Bool
    ) {
        let mask = entries.count - 1
        var b = home(label, shift: shift)
        while true {
            let there = entries[b].label
            if there == label { return (b, true) }
            if there == Self.empty { return (b, false) }
            b = (b + 1) & mask
        }
    }

    /// `label`'s value in `entries`, or nil.
    @inlinable @inline(__always)
    func value(of label: UInt64, in entries: UnsafeBufferPointer<Entry>, shift: UInt64) -> Value? {
        if label == Self.empty { return maxLabelValue }
        let (bucket, found) = Self.probe(label, in: entries, shift: shift)
        return found ? entries[bucket].value : nil
    }

    public subscript(label: UInt64) -> Value? {
        @inlinable get {
            let shift = shift
            return buckets.withUnsafeBufferPointer { value(of: label, in: $0, shift: shift) }
        }
        set {
            if let newValue { updateValue(newValue, forKey: label) } else { removeValue(forKey: label) }
        }
    }

    /// Each label's value, in the order asked; nil for a label not held. Every label's bucket is
    /// prefetched before any is probed, so the misses of a batch overlap.
    @inlinable
    public func values(of labels: [UInt64]) -> [Value?] {
        let shift = shift
        return buckets.withUnsafeBufferPointer { entries in
            for label in labels { kk_prefetch_bytes(entries.baseAddress! + Self.home(label, shift: shift), 1) }
            return labels.map { value(of: $0, in: entries, shift: shift) }
        }
    }

    /// Sets `label`'s value; returns the value it replaced, if any.
    @discardableResult
    public mutating func updateValue(_ value: Value, forKey label: UInt64) -> Value? {
        if label == Self.empty {
            defer { maxLabelValue = value }
            if maxLabelValue == nil { count += 1 }
            return maxLabelValue
        }
        if (count + 1) * 2 > buckets.count { grow(to: count + 1) }
        let shift = shift
        let replaced = buckets.withUnsafeMutableBufferPointer { entries -> Value?? in
            let (bucket, found) = Self.probe(label, in: UnsafeBufferPointer(entries), shift: shift)
            defer { entries[bucket] = Entry(label: label, value: value) }
            return found ? .some(entries[bucket].value) : .none
        }
        guard let replaced else {
            count += 1
            return nil
        }
        return replaced
    }

    /// Removes `label`; returns its value, if it was held.
    @discardableResult
    public mutating func removeValue(forKey label: UInt64) -> Value? {
        if label == Self.empty {
            defer { maxLabelValue = nil }
            if maxLabelValue != nil { count -= 1 }
            return maxLabelValue
        }
        let shift = shift
        let removed = buckets.withUnsafeMutableBufferPointer { entries -> Value? in
            let (bucket, found) = Self.probe(label, in: UnsafeBufferPointer(entries), shift: shift)
            guard found else { return nil }
            var hole = bucket
            let removed = entries[hole].value
            // Backward-shift deletion: each later entry of the run whose home is not between the
            // hole and itself (cyclically) moves into the hole, so every probe still reaches it.
            let mask = entries.count - 1
            var next = (hole + 1) & mask
            while entries[next].label != Self.empty {
                let wanted = Self.home(entries[next].label, shift: shift)
                if (next - wanted) & mask >= (next - hole) & mask {
                    entries[hole] = entries[next]
                    hole = next
                }
                next = (next + 1) & mask
            }
            entries[hole].label = Self.empty
            return removed
        }
        if removed != nil { count -= 1 }
        return removed
    }

    /// Makes room for `n` labels without growing again.
    public mutating func reserveCapacity(_ n: Int) {
        if n * 2 > buckets.count { grow(to: n) }
    }

    private mutating func grow(to n: Int) {
        let old = buckets
        let (size, newShift) = Self.bucketCount(for: max(n, old.count))  // at least double
        var grown = Self.emptyBuckets(size)
        grown.withUnsafeMutableBufferPointer { entries in
            for entry in old where entry.label != Self.empty {
                entries[Self.probe(entry.label, in: UnsafeBufferPointer(entries), shift: newShift).bucket] = entry
            }
        }
        (buckets, shift) = (grown, newShift)
    }

    /// Calls `body` with every label and its value, in no particular order.
    public func forEach(_ body: (UInt64, Value) throws -> Void) rethrows {
        for entry in buckets where entry.label != Self.empty { try body(entry.label, entry.value) }
        if let maxLabelValue { try body(Self.empty, maxLabelValue) }
    }

    /// Every label held, in no particular order.
    public var labels: [UInt64] {
        var labels: [UInt64] = []
        labels.reserveCapacity(count)
        forEach { label, _ in labels.append(label) }
        return labels
    }
}

extension LabelTable: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (UInt64, Value)...) { self.init(elements) }
}
