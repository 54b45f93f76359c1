/// The catalog's id of one image. SQLite allocates it (`items.id`, AUTOINCREMENT, so an id is
/// never handed out twice); LMDB keys vectors by it.
///
/// This type owns the id's range. SQLite's integers are signed, so valid ids are 1…Int64.max;
/// an id from outside (a request, a file) becomes an `ItemID` only through `init?(validating:)`,
/// and the catalog converts with `sqlValue`, which cannot trap.
public struct ItemID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }

    /// Every id SQLite can allocate.
    public static let validRange: ClosedRange<UInt64> = 1...UInt64(Int64.max)

    /// An id from outside, or nil when it is not a whole number in `validRange` (decimal digits
    /// only: no sign, no spaces, no other numerals).
    public init?(validating text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = UInt64(text), Self.validRange.contains(value)
        else { return nil }
        rawValue = value
    }

    /// The id as SQLite stores it. An out-of-range raw value (never produced by the catalog)
    /// maps to a negative number that matches no row, instead of trapping.
    public var sqlValue: Int64 { Int64(bitPattern: rawValue) }

    public static func < (a: ItemID, b: ItemID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}
