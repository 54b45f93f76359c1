import Foundation
import KindredCore
import KindredStore

/// Which store generation the index snapshots reflect (`VectorStore.generation`: the data file and
/// its last transaction), written by
/// `LiveIndexes.save` after the snapshots, with each snapshot file's identity. At open, a store
/// still at that generation and snapshots that are still those files prove the loaded indexes
/// hold exactly the store's items, so the reconciling pass over every record (the whole 8.5 GB
/// store at a million items, mapped into memory by the walk) is skipped. Anything else (a write
/// since, a replaced or missing snapshot, no record, an index that fell out of step with the
/// store) reconciles as before: the record can only ever skip work that would find nothing.
struct SnapshotGeneration: Codable, Equatable {
    var generation: VectorStore.Generation
    var snapshots: [String: FileStamp]

    /// A file's identity: a snapshot is written whole to a new file and renamed into place, so
    /// each save makes a new inode.
    struct FileStamp: Codable, Equatable {
        var inode: UInt64
        var size: Int64
        var modifiedNanoseconds: Int64

        init?(of url: URL) {
            var info = stat()
            guard stat(url.path, &info) == 0 else { return nil }
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modifiedNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        }
    }

    /// The record, or nil when there is none or it cannot be read (which only means reconciling).
    static func read(_ paths: StatePaths) -> SnapshotGeneration? {
        guard let bytes = try? FileIO.readWhole(paths.indexGeneration.path, limit: 64 << 10) else { return nil }
        return try? JSONDecoder().decode(SnapshotGeneration.self, from: Data(bytes))
    }

    /// Whether `space`'s snapshot is the file recorded, taken at the store's `generation`.
    func proves(space: String, snapshot: URL, generation current: VectorStore.Generation) -> Bool {
        guard generation == current, let recorded = snapshots[space] else { return false }
        return FileStamp(of: snapshot) == recorded
    }

    /// Written to a temporary file and renamed: a reader sees the old record or the new one.
    func write(_ paths: StatePaths) throws {
        let temporary = paths.indexGeneration.appendingPathExtension("tmp-\(getpid())")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try encoder.encode(self).write(to: temporary)
        guard rename(temporary.path, paths.indexGeneration.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(
                .fileWriteUnknown, userInfo: [NSFilePathErrorKey: paths.indexGeneration.path, "reason": reason])
        }
    }

    /// Removed before snapshots are written, so a stop part-way leaves no record that could vouch
    /// for a mix of old and new snapshots.
    static func remove(_ paths: StatePaths) throws {
        guard unlink(paths.indexGeneration.path) == 0 || errno == ENOENT else {
            throw CocoaError(
                .fileWriteUnknown,
                userInfo: [NSFilePathErrorKey: paths.indexGeneration.path, "reason": String(cString: strerror(errno))])
        }
    }
}
