import ArgumentParser
import Foundation
import KindredCore
import KindredStore

struct StoreImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Store the rows of a float32 .npy matrix as the vectors of the files they came from.",
        discussion: """
            Row i is the vector of the file on line i of --paths (as `kindred embed --paths-out` writes them). Each file \
            gets a catalog row, in the commit order of Schema/lmdb.md: the row as queued, then the vectors, then the row \
            marked indexed. A new space takes the file's width.
            """
    )

    @OptionGroup var state: StateOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "The vector space.") var space: String
    @Option(name: .customLong("in"), help: "An n × d float32 .npy file.", completion: .file(extensions: ["npy"]))
    var input: String
    @Option(help: "A text file of n paths, one per line.", completion: .file()) var paths: String
    @Option(help: "Rows per transaction.") var batch = 1000

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        let logger = logging.logger("kindred.store")
        let start = ContinuousClock.now
        let matrix = try Npy.readMatrix(URL(fileURLWithPath: input))
        let files = try String(contentsOfFile: paths, encoding: .utf8).split(separator: "\n").map { String($0) }
        guard files.count == matrix.rows else {
            throw ValidationError(
                "\(paths) has \(files.count) paths but \(input) has \(matrix.rows) rows; give one path per row")
        }
        let lock = try state.lockForWriting("store import")
        defer { withExtendedLifetime(lock) {} }
        let catalog = try Catalog(url: state.paths.catalog, logger: logger)
        var store = try VectorStore(directory: state.paths.vectors, spaces: [], includeRegistered: true, logger: logger)
        // Every row is checked before anything is written (a new space included), so a bad one
        // imports nothing.
        if let existing = store.spaces[space], existing.dimension != matrix.columns {
            throw ValidationError(
                "\(input) has \(matrix.columns) columns; space \(space) holds \(existing.dimension). Nothing was imported."
            )
        }
        let element = store.spaces[space]?.element ?? .float32
        for row in 0..<matrix.rows {
            let bad = matrix.storage.withUnsafeBufferPointer {
                element.firstUnstorable(
                    UnsafeBufferPointer(rebasing: $0[(row * matrix.columns)..<((row + 1) * matrix.columns)]))
            }
            if let (column, value) = bad {
                throw ValidationError(
                    "\(input) row \(row) (\(files[row])), column \(column): \(value); space \(space) stores \(element), which holds finite values within ±\(element.largestStorableMagnitude). Nothing was imported."
                )
            }
        }
        if store.spaces[space] == nil {
            store = try VectorStore(
                directory: state.paths.vectors, spaces: [VectorSpace(name: space, dimension: matrix.columns)],
                includeRegistered: true, logger: logger)
        }
        let target = StateStore(catalog: catalog, vectors: store)
        for first in stride(from: 0, to: matrix.rows, by: batch) {
            let rows = first..<min(matrix.rows, first + batch)
            let seen = rows.map { row in
                let path = URL(fileURLWithPath: files[row]).standardizedFileURL.path
                let attributes = try? FileManager.default.attributesOfItem(atPath: path)
                let size = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
                let mtime = Int64(((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0) * 1e9)
                return Catalog.SeenFile(path: path, size: size, mtimeNs: mtime)
            }
            try target.importItems(seen, contentHash: "imported") {
                [(space, .floats(matrix.row(rows.lowerBound + $0)))]
            }
        }
        printJSONLine(["space": space, "rows": matrix.rows, "dimension": matrix.columns, "s": elapsed(since: start)])
    }
}
