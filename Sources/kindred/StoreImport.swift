import ArgumentParser
import Foundation
import KindredCore
import KindredStore

struct StoreImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write the rows of a float32 .npy matrix into a vector space.",
        discussion: "Row i becomes item i+1 unless --ids names an int32 .npy of ids. A new space takes the file's width."
    )

    @OptionGroup var state: StateOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "The vector space.") var space: String
    @Option(name: .customLong("in"), help: "An n × d float32 .npy file.", completion: .file(extensions: ["npy"])) var input: String
    @Option(help: "An int32 .npy of n item ids (positive).", completion: .file(extensions: ["npy"])) var ids: String?
    @Option(help: "Rows per transaction.") var batch = 1000

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        let logger = logging.logger("kindred.store")
        let start = ContinuousClock.now
        let matrix = try Npy.readMatrix(URL(fileURLWithPath: input))
        var itemIDs = (1...max(1, matrix.rows)).map { ItemID(UInt64($0)) }
        if let ids {
            let array = try Npy.read(URL(fileURLWithPath: ids), as: Int32.self)
            guard array.values.count == matrix.rows, array.values.allSatisfy({ $0 > 0 }) else {
                throw ValidationError("\(ids) must hold \(matrix.rows) positive ids, one per row of \(input)")
            }
            itemIDs = array.values.map { ItemID(UInt64($0)) }
        }
        try state.paths.create()
        let store = try VectorStore(directory: state.paths.vectors, spaces: [], includeRegistered: true, logger: logger)
        let target = store.spaces[space] ?? VectorSpace(name: space, dimension: matrix.columns)
        let opened = store.spaces[space] != nil ? store : try VectorStore(directory: state.paths.vectors, spaces: [target], includeRegistered: true, logger: logger)
        let loaded = elapsed(since: start)
        let writeStart = ContinuousClock.now
        try matrix.storage.withUnsafeBufferPointer { all in
            for first in stride(from: 0, to: matrix.rows, by: batch) {
                try opened.write { txn throws(VectorStoreError) in
                    for row in first..<min(matrix.rows, first + batch) {
                        try txn.put(itemIDs[row], UnsafeBufferPointer(rebasing: all[(row * matrix.columns)..<((row + 1) * matrix.columns)]), space: space)
                    }
                }
            }
        }
        printJSONLine(["space": space, "rows": matrix.rows, "dimension": matrix.columns, "read_s": loaded, "write_s": elapsed(since: writeStart)])
    }
}
