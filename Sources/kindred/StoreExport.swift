import ArgumentParser
import Foundation
import KindredCore
import KindredStore

struct StoreExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write every vector of a space to a float32 .npy file, in id order.")

    @OptionGroup var state: StateOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "The vector space.") var space: String
    @Option(help: "The n × d float32 .npy to write.", completion: .file(extensions: ["npy"])) var out: String
    @Option(
        name: .customLong("ids-out"), help: "Also write the n item ids as int32 .npy.",
        completion: .file(extensions: ["npy"])) var idsOut: String?

    func run() throws {
        let store = try VectorStore(
            directory: state.paths.vectors, spaces: [], includeRegistered: true, logger: logging.logger("kindred.store")
        )
        let start = ContinuousClock.now
        let (ids, matrix) = try store.readMatrix(space: space)
        let read = elapsed(since: start)
        try Npy.write(matrix, to: URL(fileURLWithPath: out))
        if let idsOut {
            guard ids.allSatisfy({ $0.rawValue <= UInt64(Int32.max) }) else {
                throw ValidationError("ids exceed int32; .npy ids are int32")
            }
            try Npy.write(
                NpyArray(shape: [ids.count], values: ids.map { Int32($0.rawValue) }), to: URL(fileURLWithPath: idsOut))
        }
        printJSONLine(["space": space, "rows": matrix.rows, "dimension": matrix.columns, "read_s": read])
    }
}
