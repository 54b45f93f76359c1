import ArgumentParser
import Foundation
import KindredCore
import KindredProtocol
import Synchronization

// The refit and cluster commands: each forwards a request to kindredd (Schema/protocol.md).

struct Refit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regroup the collection now: PCA → UMAP → HDBSCAN (or k-means), in kindredd's background.",
        discussion:
            "With --wait, prints the finished run (items, clusters, noise, silhouette, new and vanished clusters); the systemd timer runs exactly this."
    )

    @OptionGroup var daemon: DaemonOptions
    @Flag(help: "Wait for the run to finish.") var wait = false

    func run() throws {
        guard wait, !daemon.json, isatty(STDERR_FILENO) == 1 else {
            return try daemon.ask(.refit(wait: wait), header: wait ? ["key", "value"] : ["refit"])
        }
        // On a terminal, the run's stage and time on stderr while it runs (asked of STATUS on a
        // second connection), then the finished run.
        let started = Date(), finished = Mutex(false), socket = daemon.socketPath
        let progress = Thread {
            while !finished.withLock({ $0 }) {
                let status = (try? SocketClient(path: socket).ask(.status).get()) ?? []
                let value = { (key: String) in status.first { $0.first == key }?.last ?? "" }
                let stage = value("refit_stage"), done = Double(value("refit_progress"))
                let line = Self.progressLine(
                    stage: stage, done: done, seconds: Int(Date().timeIntervalSince(started)))
                FileHandle.standardError.write(
                    Data(("\r" + line.padding(toLength: 72, withPad: " ", startingAt: 0)).utf8))
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        progress.start()
        defer {
            finished.withLock { $0 = true }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
        try daemon.ask(.refit(wait: true), header: ["key", "value"])
    }
}

extension Refit {
    /// `refitting [████████░░░░░░░░░░░░]  41 % neighbours, 312 s`: the bar kindred refit --wait
    /// redraws on a terminal from STATUS's refit_progress and refit_stage.
    static func progressLine(stage: String, done: Double?, seconds: Int) -> String {
        guard !stage.isEmpty, let done else { return "refitting: waiting, \(seconds) s" }
        let width = 20, filled = max(0, min(width, Int((done * Double(width)).rounded())))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let percent = String(Int((done * 100).rounded())).leftPad(3)
        return "refitting [\(bar)] \(percent) % \(stage), \(seconds) s"
    }
}

extension String {
    fileprivate func leftPad(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List refit runs, newest first.")

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "At most this many.") var limit = 20

    func run() throws {
        try daemon.ask(
            .runs(limit: limit),
            header: [
                "run", "status", "current", "started", "finished", "algorithm", "items", "clusters", "noise",
                "silhouette", "error",
            ])
    }
}

struct Clusters: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "List the current run's clusters: id, name, size, exemplar (the member nearest the centre), mean silhouette, age in runs.",
        discussion: """
            A cluster's name is the one given with `kindred name-cluster`, else the label the run made from its \
            members (their dominant top folder and the ImageNet classes they show most). With --json: an array of \
            objects with id, name, size, exemplar, silhouette and age_runs.
            """
    )

    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        let header = ["id", "name", "size", "exemplar", "silhouette", "age_runs"]
        guard daemon.json else { return try daemon.ask(.clusters, header: header) }
        let objects = try daemon.rows(.clusters).map { fields -> [String: Any] in
            [
                "id": Int(fields[0]) ?? -1, "name": fields[1], "size": Int(fields[2]) ?? 0, "exemplar": fields[3],
                "silhouette": Double(fields[4]) as Any? ?? NSNull(), "age_runs": Int(fields[5]) ?? 1,
            ]
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }
}

struct NameCluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "name-cluster",
        abstract: "Name a cluster of the current run; the name follows its stable id across refits (admin).",
        discussion: "An empty NAME removes the name, and the run's own label shows again."
    )

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The cluster id, as `kindred clusters` lists it.") var id: Int
    @Argument(help: "The name (at most 80 characters; quote it).") var name: String

    func run() throws {
        let valid: ClusterName?
        do { valid = try ClusterName(validating: name) } catch { throw ValidationError(error.description) }
        try daemon.ask(.nameCluster(id: id, name: valid), header: ["id", "name", "label"])
    }
}

struct Cluster: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List one cluster's members, nearest its centre first.")

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The cluster id, as `kindred clusters` lists it.") var id: Int
    @Option(help: "At most this many.") var limit = 50

    func run() throws {
        try daemon.ask(.cluster(id: id, limit: limit), header: ["rank", "id", "path", "probability", "outlier"])
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the collection out for other tools: the current run's map and clusters, or everything.",
        discussion: """
            csv: id,path,x,y[,z],cluster with a header line. npy: --out gets the n × dims float32 coordinates, \
            --labels-out the int32 labels (−1 noise), --ids-out the int32 item ids, row for row. These two ask \
            kindredd. npy-dir and jsonl read the state directory (--state) and write every indexed item: \
            npy-dir, one .npy file a field in the directory --out (id int64, path and content_hash unicode, \
            cnn and style float32 matrices, x, y float32, cluster int64: the NumPy layout of Milvus bulk insert); \
            jsonl, one JSON object an item a line (id, path, content_hash, cnn, style, x, y, cluster), as Spark \
            reads JSON; milvus-json, the same objects as {"rows": [...]}, Milvus's row-based bulk insert file; \
            qdrant, a directory of points-NNNNN.json upsert bodies, {"points": [{"id", "vector": {"cnn", "style"}, \
            "payload": {...}}]} of 1,000 points each, for PUT /collections/NAME/points. Items no run has placed \
            get x, y NaN (null) and cluster −1.
            """
    )

    enum Format: String, ExpressibleByArgument {
        case csv, npy
        case npyDirectory = "npy-dir"
        case jsonl
        case milvusJSON = "milvus-json"
        case qdrant

        /// Read from the state directory, with the vectors, rather than asked of kindredd.
        var exportsVectors: Bool { self != .csv && self != .npy }
    }

    @OptionGroup var daemon: DaemonOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "csv, npy, npy-dir, jsonl, milvus-json or qdrant.") var format = Format.csv
    @Option(help: "Where to write (csv: the table; npy: the coordinates).") var out: String
    @Option(help: "2 or 3.") var dims = 2
    @Option(name: .customLong("labels-out"), help: "npy: where to write the labels.") var labelsOut: String?
    @Option(name: .customLong("ids-out"), help: "npy: where to write the item ids (int32).") var idsOut: String?

    func validate() throws {
        guard dims == 2 || dims == 3 else { throw ValidationError("--dims is 2 or 3") }
    }

    func run() throws {
        if format.exportsVectors {
            let collection = try ExportedCollection.read(state.paths, logger: logging.logger("kindred.export"))
            switch format {
            case .jsonl: try collection.writeJSONLines(URL(fileURLWithPath: out))
            case .milvusJSON: try collection.writeMilvusRows(URL(fileURLWithPath: out))
            case .qdrant: try collection.writeQdrantBatches(URL(fileURLWithPath: out, isDirectory: true))
            default: try collection.writeNpyDirectory(URL(fileURLWithPath: out, isDirectory: true))
            }
            FileHandle.standardError.write(Data("kindred: wrote \(collection.ids.count) items to \(out)\n".utf8))
            return
        }
        let rows = try daemon.rows(.map(dimensions: dims))
        switch format {
        case .csv:
            func field(_ text: String) -> String {
                // By Unicode scalars: "\r\n" is one Character, equal to neither "\r" nor "\n".
                text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                    ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
            }
            var text = (dims == 3 ? "id,path,x,y,z,cluster\n" : "id,path,x,y,cluster\n")
            for row in rows { text += row.map(field).joined(separator: ",") + "\n" }
            try text.write(toFile: out, atomically: true, encoding: .utf8)
        case .npyDirectory, .jsonl, .milvusJSON, .qdrant:
            break  // handled above, from the state directory
        case .npy:
            let coordinates = rows.flatMap { row in row[2..<(2 + dims)].map { Float($0) ?? .nan } }
            try Npy.write(Matrix(rows: rows.count, columns: dims, storage: coordinates), to: URL(fileURLWithPath: out))
            if let labelsOut {
                try Npy.write(
                    NpyArray(shape: [rows.count], values: rows.map { Int32($0[2 + dims]) ?? -1 }),
                    to: URL(fileURLWithPath: labelsOut))
            }
            if let idsOut {
                try Npy.write(
                    NpyArray(shape: [rows.count], values: rows.map { Int32($0[0]) ?? -1 }),
                    to: URL(fileURLWithPath: idsOut))
            }
        }
        FileHandle.standardError.write(Data("kindred: wrote \(rows.count) items to \(out)\n".utf8))
    }
}
