import Dispatch
import Foundation
import KindredCore
import KindredFeatures
import KindredStore
import Synchronization

/// An online backup of a running collection into a new directory that is itself a state
/// directory: `kindredd --state DIR` starts on it. It runs on the ingestion thread between
/// batches (`ControlCommand.backup`), so no batch is half in one store and half in the other;
/// queries and refits go on meanwhile.
///
/// - vectors: LMDB's own copy, compacted (`mdb_env_copy2` with `MDB_CP_COMPACT`);
/// - catalog: SQLite's online backup API;
/// - the index snapshots, written fresh from the live indexes;
/// - the converted weights, so the copy needs no `kindred model install`.
enum StateBackup {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Writes the backup and returns one row per part: what, bytes.
    static func write(
        to destination: CollectionPath, state: StateStore, indexes: LiveIndexes, paths: StatePaths
    ) throws -> [[String]] {
        let directory = try CollectionPath(paths.root.standardizedFileURL.path)
        guard !destination.isWithin(directory), !directory.isWithin(destination) else {
            throw Failure(description: "\(destination) overlaps the state directory \(directory)")
        }
        var info = stat()
        if stat(destination.string, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR,
                (try? FileManager.default.contentsOfDirectory(atPath: destination.string))?.isEmpty == true
            else {
                throw Failure(description: "\(destination) exists and is not an empty directory")
            }
        } else {
            guard mkdir(destination.string, 0o700) == 0 else {
                throw Failure(description: "\(destination): \(String(cString: strerror(errno)))")
            }
        }
        let copy = StatePaths(root: URL(fileURLWithPath: destination.string))
        try copy.create()
        try state.backup(to: copy)
        try indexes.save(in: copy)
        let weights = ModelFiles.installed(in: paths)
        if FileManager.default.fileExists(atPath: weights.path) {
            try FileManager.default.createDirectory(at: copy.weights, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: weights, to: ModelFiles.installed(in: copy))
        }
        func size(_ url: URL) -> Int {
            guard let files = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.fileSizeKey]) else {
                return (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
            }
            return files.compactMap {
                ($0 as? URL).flatMap { try? $0.resourceValues(forKeys: [.fileSizeKey]).fileSize }
            }.reduce(0, +)
        }
        return [["vectors", String(size(copy.vectors))], ["catalog", String(size(copy.catalog))]]
            + indexes.all.map { ["index-\($0.space)", String(size(copy.index(space: $0.space)))] }
            + [["weights", String(size(copy.weights))]]
    }
}

/// A result one thread hands to another that waits for it (a BACKUP answered once the ingestion
/// thread has run it).
public final class Handover<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    public init() {}

    public func fulfil(_ result: Value) {
        value.withLock { $0 = result }
        ready.signal()
    }

    public func wait() -> Value {
        ready.wait()
        return value.withLock { $0! }
    }
}
