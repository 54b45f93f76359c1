import ArgumentParser
import Foundation
import KindredCore
import KindredIndex

struct IndexReencode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reencode",
        abstract: "Write an index's graph again with its rows in another encoding, from the indexed .npy file.",
        discussion: """
            Every node keeps its links; only the rows change (what kindredd does at start when \
            [index] encoding changed). Prints one JSON line with reencode_s.
            """
    )

    @OptionGroup var logging: LoggingOptions
    @Option(help: "An index written by `kindred index build`.") var index: String
    @Option(help: "The indexed float32 .npy file (row i is label i).", completion: .file(extensions: ["npy"]))
    var vectors: String
    @Option(help: "The new encoding: float32, float16, int8 or int4.") var encoding: VectorEncoding
    @Option(help: "Where to write the re-encoded index.") var out: String

    func run() throws {
        let logger = logging.logger("kindred.index")
        let loaded = try HNSWIndex.load(from: URL(fileURLWithPath: index), logger: logger)
        let matrix = try Npy.readMatrix(URL(fileURLWithPath: vectors))
        guard matrix.columns == loaded.dimension else {
            throw ValidationError("\(vectors) has \(matrix.columns) columns; the index holds \(loaded.dimension)")
        }
        let started = ContinuousClock.now
        let copy = try loaded.reencoded(as: encoding, from: MatrixRows(matrix))
        let seconds = elapsed(since: started)
        try copy.save(to: URL(fileURLWithPath: out))
        printJSONLine([
            "n": copy.slotCount, "from": loaded.encoding.rawValue, "encoding": encoding.rawValue, "reencode_s": seconds,
        ])
    }
}
