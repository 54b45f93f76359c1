import ArgumentParser
import Dispatch
import Foundation
import KindredCore
import KindredIndex
import Synchronization

struct IndexChurn: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "churn",
        abstract: "Measure recall and memory after deleting part of an index and adding it back.",
        discussion: """
            Builds an index over VECTORS, then twice deletes a random FRACTION of the rows and adds \
            them back: once without compaction (the tombstones stay, the re-added rows take new slots) \
            and once compacting between the deletes and the re-adds (their slots are reused). Prints \
            one JSON line per stage with recall@10 against TRUTH (re-ranked exactly for compact \
            encodings), the index's slots and tombstones, and the process's resident memory.
            """)

    @OptionGroup var logging: LoggingOptions
    @Option(help: "An n × d float32 .npy file.", completion: .file(extensions: ["npy"])) var vectors: String
    @Option(help: "An m × d float32 .npy file of queries.", completion: .file(extensions: ["npy"])) var queries: String
    @Option(help: "An m × ≥10 int32 .npy file: each query's exact nearest rows.") var truth: String
    @Option(help: "The fraction of rows deleted and added back.") var fraction = 0.3
    @Option(help: "How the walk holds vectors: float32, float16, int8 or int4.") var encoding: VectorEncoding = .int8
    @Option(help: "Candidate-list size for the recall searches.") var ef = 64
    @Option(help: "Insertion threads.") var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard fraction > 0, fraction < 1 else { throw ValidationError("--fraction is between 0 and 1") }
    }

    func run() throws {
        let logger = logging.logger("kindred.index")
        let base = try Npy.readMatrix(URL(fileURLWithPath: vectors))
        let queryMatrix = try Npy.readMatrix(URL(fileURLWithPath: queries))
        let truthArray = try Npy.read(URL(fileURLWithPath: truth), as: Int32.self)
        guard truthArray.shape.count == 2, truthArray.shape[0] == queryMatrix.rows, truthArray.shape[1] >= 10,
            queryMatrix.columns == base.columns
        else { throw ValidationError("--truth must be queries × ≥10 and --queries as wide as --vectors") }
        let exact = MatrixRows(base)
        var random = SeededRandom(seed: 11)
        let churned = Array(
            (0..<base.rows).map { UInt64($0) }.shuffled(using: &random).prefix(Int(Double(base.rows) * fraction)))

        func report(_ stage: String, _ index: HNSWIndex) throws {
            var hits = 0
            for q in 0..<queryMatrix.rows {
                let found = Set(try index.search(queryMatrix.row(q), k: 10, ef: ef, exact: exact).map(\.label))
                let expected = (0..<10).map { UInt64(truthArray.values[q * truthArray.shape[1] + $0]) }
                hits += expected.filter(found.contains).count
            }
            printJSONLine([
                "stage": stage, "encoding": encoding.rawValue, "recall": Double(hits) / Double(10 * queryMatrix.rows),
                "live": index.count, "tombstones": index.deletedCount, "slots": index.slotCount,
                "rss_mb": residentMegabytes(),
            ])
        }
        func churn(_ index: HNSWIndex, compacting: Bool) throws {
            for label in churned { index.remove(label: label) }
            if compacting { index.compact() }
            try Self.insert(churned, from: base, into: index, threads: threads)
        }

        var index: HNSWIndex? = try HNSWIndex.build(
            base, metric: .cosine, encoding: encoding, threads: threads, logger: logger)
        try report("built", index!)
        try churn(index!, compacting: false)
        try report("deleted and re-added, tombstones kept", index!)
        index!.compact()
        try report("then compacted", index!)
        index = nil
        let fresh = try HNSWIndex.build(base, metric: .cosine, encoding: encoding, threads: threads, logger: logger)
        try churn(fresh, compacting: true)
        try report("deleted, compacted, re-added (slots reused)", fresh)
    }

    static func insert(_ labels: [UInt64], from base: Matrix, into index: HNSWIndex, threads: Int) throws {
        let next = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < labels.count else { return }
                do { try base.withRow(Int(labels[i])) { try index.insert($0, label: labels[i]) } } catch {
                    failure.withLock { $0 = $0 ?? "\(error)" }
                }
            }
        }
        if let message = failure.withLock({ $0 }) { throw ValidationError(message) }
    }
}

/// This process's resident memory (VmRSS), in MB.
func residentMegabytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return -1 }
    return kb / 1024
}
