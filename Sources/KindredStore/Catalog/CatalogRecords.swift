import GRDB
import KindredCore

/// Where an item is in the pipeline. `queued` covers both "never extracted" and "changed since".
public enum ItemStatus: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case queued, indexed, failed
}

/// A row of `items` (Schema/catalog/001_initial.sql documents every column).
public struct CatalogItem: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "items"

    public var id: Int64?
    public var path: String
    public var rootID: Int64?
    public var size: Int64
    public var mtimeNs: Int64
    public var contentHash: String?
    public var width: Int?
    public var height: Int?
    public var format: String?
    public var status: ItemStatus
    public var error: String?
    public var firstSeen: Int64
    public var lastIndexed: Int64?
    /// Decodes started since the last outcome (Schema/catalog/004_trust.sql): non-zero at start-up
    /// means the process died on this file or beside it.
    public var attempts: Int = 0

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, path, size, width, height, format, status, error, attempts
        case rootID = "root_id", mtimeNs = "mtime_ns", contentHash = "content_hash"
        case firstSeen = "first_seen", lastIndexed = "last_indexed"
    }

    /// The columns a row decodes from, named rather than `*`: a statement kept prepared on a
    /// connection that last saw the schema before a migration would expand `*` to the old columns.
    static let selection = CodingKeys.allCases.map(\.rawValue).joined(separator: ", ")

    public init(
        id: Int64?, path: String, rootID: Int64? = nil, size: Int64, mtimeNs: Int64, contentHash: String? = nil,
        width: Int? = nil, height: Int? = nil, format: String? = nil, status: ItemStatus = .queued,
        error: String? = nil,
        firstSeen: Int64 = 0, lastIndexed: Int64? = nil, attempts: Int = 0
    ) {
        (self.id, self.path, self.rootID, self.size, self.mtimeNs) = (id, path, rootID, size, mtimeNs)
        (self.contentHash, self.width, self.height, self.format) = (contentHash, width, height, format)
        (self.status, self.error, self.firstSeen, self.lastIndexed, self.attempts) = (
            status, error, firstSeen, lastIndexed, attempts
        )
    }

    public var itemID: ItemID? { id.map { ItemID(UInt64($0)) } }

    /// An indexed item whose vectors an older producer made (`Catalog.markForReextraction` cleared
    /// its content hash, which every extraction sets): it answers from them until the next scan
    /// extracts it again.
    public var awaitsReextraction: Bool { status == .indexed && contentHash == nil }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A row of `roots`: a watched directory.
public struct CatalogRoot: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "roots"

    public var id: Int64?
    public var path: String
    public var addedAt: Int64
    public var enabled: Bool
    /// st_dev when the root was added (nil for roots older than migration 004).
    public var device: Int64?

    enum CodingKeys: String, CodingKey {
        case id, path, enabled, device
        case addedAt = "added_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
