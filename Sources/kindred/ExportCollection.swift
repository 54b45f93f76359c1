import Foundation
import KindredCore
import KindredStore
import Logging

/// What `kindred export --format npy-dir|jsonl|milvus-json|qdrant` writes: every indexed item with its vectors, path,
/// content hash, and (when a refit has run) its 2-D map position and cluster. Read from the state
/// directory, since kindredd does not serve vectors over its socket.
struct ExportedCollection {
    var ids: [Int64] = []
    var paths: [String] = []
    var contentHashes: [String] = []
    /// Row i is item ids[i]'s vector; nil for a space the store lacks.
    var vectors: [(space: String, matrix: Matrix)] = []
    /// From the current run; items placed by none get NaN and cluster −1.
    var x: [Float] = [], y: [Float] = [], clusters: [Int64] = []

    static func read(_ paths: StatePaths, logger: Logger) throws -> ExportedCollection {
        let store = try VectorStore(directory: paths.vectors, spaces: [], includeRegistered: true, logger: logger)
        let catalog = try Catalog(url: paths.catalog, readOnly: true, logger: logger)
        let files = try catalog.indexedFiles()
        let (ids, cnn) = try store.readMatrix(space: Space.cnn.name)
        // Items the catalog calls indexed and the store has a CNN vector for, in id order.
        let rows = ids.indices.filter { files[ids[$0]] != nil }
        var exported = ExportedCollection()
        exported.ids = rows.map { Int64(ids[$0].rawValue) }
        exported.paths = rows.map { files[ids[$0]]!.path }
        exported.contentHashes = rows.map { files[ids[$0]]!.contentHash }
        exported.vectors.append((Space.cnn.name, select(cnn, rows: rows)))
        if store.spaces[Space.style.name] != nil {
            let (styleIDs, style) = try store.readMatrix(space: Space.style.name)
            let rowOf = Dictionary(uniqueKeysWithValues: styleIDs.enumerated().map { ($1, $0) })
            var storage = [Float](repeating: .nan, count: rows.count * style.columns)
            for (out, row) in rows.enumerated() {
                guard let source = rowOf[ids[row]] else { continue }
                for c in 0..<style.columns {
                    storage[out * style.columns + c] = style.storage[source * style.columns + c]
                }
            }
            exported.vectors.append(
                (Space.style.name, Matrix(rows: rows.count, columns: style.columns, storage: storage)))
        }
        exported.x = Array(repeating: .nan, count: rows.count)
        exported.y = exported.x
        exported.clusters = Array(repeating: -1, count: rows.count)
        if let run = try catalog.currentRun() {
            let position = Dictionary(uniqueKeysWithValues: exported.ids.enumerated().map { ($1, $0) })
            for (assignment, _) in try catalog.assignments(run: run.id) {
                guard let i = position[Int64(assignment.item.rawValue)] else { continue }
                (exported.x[i], exported.y[i]) = assignment.map2
                exported.clusters[i] = Int64(assignment.cluster)
            }
        }
        return exported
    }

    private static func select(_ matrix: Matrix, rows: [Int]) -> Matrix {
        guard rows.count != matrix.rows else { return matrix }
        var storage: [Float] = []
        storage.reserveCapacity(rows.count * matrix.columns)
        for row in rows { storage += matrix.row(row) }
        return Matrix(rows: rows.count, columns: matrix.columns, storage: storage)
    }

    /// One `.npy` file a field, named after it, as Milvus bulk insert takes NumPy files: `id`
    /// (int64), `path` and `content_hash` (unicode), one float32 matrix a space (`cnn`, `style`),
    /// `x`, `y` (float32) and `cluster` (int64).
    func writeNpyDirectory(_ directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func file(_ name: String) -> URL { directory.appendingPathComponent(name + ".npy") }
        try Npy.write(NpyArray(shape: [ids.count], values: ids), to: file("id"))
        try Npy.write(strings: paths, to: file("path"))
        try Npy.write(strings: contentHashes, to: file("content_hash"))
        for (space, matrix) in vectors { try Npy.write(matrix, to: file(space)) }
        try Npy.write(NpyArray(shape: [ids.count], values: x), to: file("x"))
        try Npy.write(NpyArray(shape: [ids.count], values: y), to: file("y"))
        try Npy.write(NpyArray(shape: [ids.count], values: clusters), to: file("cluster"))
    }

    /// How a collection is laid out as JSON: one row object an item.
    enum JSONLayout {
        /// `{"id", "path", "content_hash", <space>: [...], "x", "y", "cluster"}`: Spark's
        /// `read.json` (one a line) and Milvus's row-based bulk insert (`{"rows": [...]}`).
        case flat
        /// A Qdrant point: `{"id", "vector": {<space>: [...]}, "payload": {"path", "content_hash",
        /// "x", "y", "cluster"}}`, named vectors, as `PUT /collections/NAME/points` takes them.
        case qdrantPoint
    }

    /// Item `i` as one JSON object.
    func jsonRow(_ i: Int, _ layout: JSONLayout) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        func string(_ text: String) throws -> String { String(decoding: try encoder.encode(text), as: UTF8.self) }
        func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }
        let described =
            "\"path\":\(try string(paths[i])),\"content_hash\":\(try string(contentHashes[i])),"
            + "\"x\":\(number(x[i])),\"y\":\(number(y[i])),\"cluster\":\(clusters[i])"
        let spaces = vectors.map { "\"\($0.space)\":[" + $0.matrix.row(i).map(number).joined(separator: ",") + "]" }
        switch layout {
        case .flat: return "{\"id\":\(ids[i]),\(spaces.joined(separator: ",")),\(described)}"
        case .qdrantPoint:
            return "{\"id\":\(ids[i]),\"vector\":{\(spaces.joined(separator: ","))},\"payload\":{\(described)}}"
        }
    }

    /// One JSON object a line (what Spark's `read.json` and most loaders take): id, path,
    /// content_hash, a float array a space, x, y (null when unplaced) and cluster.
    func writeJSONLines(_ url: URL) throws {
        try Self.writeAtomically(url) { emit in
            for i in ids.indices { try emit(try jsonRow(i, .flat) + "\n") }
        }
    }

    /// Milvus's row-based bulk insert file: `{"rows": [ ...the JSON-lines objects... ]}`.
    func writeMilvusRows(_ url: URL) throws {
        try Self.writeAtomically(url) { emit in
            try emit("{\"rows\":[\n")
            for i in ids.indices { try emit(try jsonRow(i, .flat) + (i == ids.count - 1 ? "\n" : ",\n")) }
            try emit("]}\n")
        }
    }

    /// Qdrant upsert bodies: `points-00000.json`, … in `directory`, each `{"points": [...]}` of at
    /// most `batch` points, ready for `curl -X PUT …/collections/NAME/points -d @points-00000.json`.
    func writeQdrantBatches(_ directory: URL, batch: Int = 1000) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (number, first) in stride(from: 0, to: max(ids.count, 1), by: batch).enumerated() {
            let file = directory.appendingPathComponent(String(format: "points-%05d.json", number))
            try Self.writeAtomically(file) { emit in
                try emit("{\"points\":[\n")
                let last = min(ids.count, first + batch) - 1
                for i in first..<(last + 1) { try emit(try jsonRow(i, .qdrantPoint) + (i == last ? "\n" : ",\n")) }
                try emit("]}\n")
            }
        }
    }

    /// Writes through `body`'s text to a temporary file, then renames it to `url`.
    private static func writeAtomically(_ url: URL, _ body: ((String) throws -> Void) throws -> Void) throws {
        let temporary = url.path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
            let handle = FileHandle(forWritingAtPath: temporary)
        else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path]) }
        var buffer = ""
        do {
            try body { text in
                buffer += text
                if buffer.utf8.count > 1 << 20 {
                    try handle.write(contentsOf: Data(buffer.utf8))
                    buffer = ""
                }
            }
            try handle.write(contentsOf: Data(buffer.utf8))
            try handle.close()
        } catch {
            try? handle.close()
            unlink(temporary)
            throw error
        }
        guard rename(temporary, url.path) == 0 else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }
}
