import Foundation

/// Where Kindred keeps its state. Everything lives under one directory so that backing it up,
/// moving it or handing it to systemd's `StateDirectory=` is one path.
public struct StatePaths: Sendable, Equatable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// `--state DIR` if given, else systemd's `$STATE_DIRECTORY`, else `$XDG_STATE_HOME/kindred`,
    /// else `~/.local/state/kindred`.
    public static func resolve(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> StatePaths {
        if let explicit, !explicit.isEmpty { return StatePaths(root: URL(fileURLWithPath: explicit)) }
        // systemd may pass several colon-separated directories; the first is ours.
        if let systemd = environment["STATE_DIRECTORY"]?.split(separator: ":").first {
            return StatePaths(root: URL(fileURLWithPath: String(systemd)))
        }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            return StatePaths(root: URL(fileURLWithPath: xdg).appendingPathComponent("kindred"))
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return StatePaths(root: URL(fileURLWithPath: home).appendingPathComponent(".local/state/kindred"))
    }

    /// The LMDB environment (`data.mdb`, `lock.mdb`).
    public var vectors: URL { root.appendingPathComponent("vectors") }
    /// The SQLite catalog, in WAL mode.
    public var catalog: URL { root.appendingPathComponent("catalog.sqlite") }
    /// The HNSW snapshot of one vector space's index.
    public func index(space: String) -> URL { root.appendingPathComponent("index-\(space).hnsw") }
    /// Which store generation the snapshots reflect (written after them, Schema/README.md).
    public var indexGeneration: URL { root.appendingPathComponent("index-generation.json") }
    /// Converted model weights.
    public var weights: URL { root.appendingPathComponent("weights") }
    /// The one writer's lock (`StateLock`).
    public var writerLock: URL { root.appendingPathComponent("writer.lock") }

    /// Creates the root (mode 0750) if it does not exist.
    public func create() throws {
        try FileManager.default.createDirectory(
            at: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
    }
}
