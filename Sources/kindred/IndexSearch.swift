import ArgumentParser
import Dispatch
import Foundation
import KindredCore
import KindredIndex
import Synchronization

struct IndexSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search an index for the k nearest rows of each query.",
        discussion:
            "Writes int32 ids: row i holds query i's neighbours, nearest first, as row numbers of the indexed file (-1 where fewer than k exist). Prints one JSON line with search_s and qps; search_s excludes loading."
    )

    @OptionGroup var logging: LoggingOptions
    @Option(help: "An index written by `kindred index build`.") var index: String
    @Option(help: "An m × d float32 .npy file of queries.", completion: .file(extensions: ["npy"])) var queries: String
    @Option(help: "Neighbours per query.") var k = 10
    @Option(help: "Candidate-list size (ef in the paper); at least k is used.") var ef = 64
    @Option(help: "Where to write the m × k int32 ids.") var out: String
    @Option(help: "Search threads; 1 runs one query at a time.") var threads = 1
    @Option(
        help:
            "The indexed .npy file: an index of compact codes re-ranks its candidates with these exact vectors (timed with the search).",
        completion: .file(extensions: ["npy"]))
    var exact: String?
    @Option(
        help:
            "How many of the walk's best candidates --exact re-ranks (k to ef); default: the encoding's depth (int8 3k, int4 all ef)."
    )
    var rerank: Int?

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be at least 1") }
        guard ef >= 1 else { throw ValidationError("--ef must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let rerank, rerank < 1 { throw ValidationError("--rerank must be at least 1") }
    }

    func run() throws {
        let loadStart = ContinuousClock.now
        let hnsw = try HNSWIndex.load(from: URL(fileURLWithPath: index), logger: logging.logger("kindred.index"))
        let loadSeconds = elapsed(since: loadStart)
        let queryMatrix = try Npy.readMatrix(URL(fileURLWithPath: queries))
        guard queryMatrix.columns == hnsw.dimension else {
            throw ValidationError(
                "queries are \(queryMatrix.columns)-d but the index holds \(hnsw.dimension)-d vectors")
        }
        let m = queryMatrix.rows
        let exactRows = try exact.map { MatrixRows(try Npy.readMatrix(URL(fileURLWithPath: $0))) }
        if let exactRows, exactRows.matrix.columns != hnsw.dimension {
            throw ValidationError("--exact holds \(exactRows.matrix.columns)-d vectors; the index, \(hnsw.dimension)-d")
        }
        let results = UnsafeMutableBufferPointer<Int32>.allocate(capacity: m * k)
        defer { results.deallocate() }
        results.initialize(repeating: -1)
        let resultsAddress = UInt(bitPattern: results.baseAddress)
        let k = self.k, ef = self.ef, threads = self.threads, rerank = self.rerank
        let next = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        let searchStart = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            // Each query writes only its own row of the result buffer.
            let out = UnsafeMutablePointer<Int32>(bitPattern: resultsAddress)!
            while true {
                let q = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard q < m else { return }
                queryMatrix.withRow(q) { query in
                    do {
                        for (j, neighbor) in try hnsw.search(query, k: k, ef: ef, exact: exactRows, rerank: rerank)
                            .enumerated()
                        {
                            out[q * k + j] = Int32(truncatingIfNeeded: neighbor.label)
                        }
                    } catch {
                        failure.withLock { $0 = $0 ?? "\(error)" }
                    }
                }
            }
        }
        let searchSeconds = elapsed(since: searchStart)
        if let message = failure.withLock({ $0 }) { throw ValidationError(message) }
        try Npy.write(NpyArray(shape: [m, k], values: Array(results)), to: URL(fileURLWithPath: out))
        printJSONLine([
            "queries": m, "k": k, "ef": ef, "threads": threads, "kernels": distanceKernelISA,
            "code_kernels": codeKernelISA,
            "encoding": hnsw.encoding.rawValue, "reranked": exactRows != nil && hnsw.encoding != .float32,
            "rerank_depth": hnsw.rerankDepth(k: k, ef: ef, rerank: rerank),
            "load_s": loadSeconds, "search_s": searchSeconds, "qps": (Double(m) / max(searchSeconds, 1e-9)).rounded(),
        ])
    }
}
