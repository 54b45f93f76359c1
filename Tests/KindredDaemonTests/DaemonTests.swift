import Foundation
import KindredCore
import KindredFeatures
import KindredImaging
import KindredIndex
import KindredProtocol
import KindredStore
import KindredTestSupport
import Synchronization
import Testing

/// The directory holding the built executables (the test bundle sits beside them).

/// A real kindredd process on a temporary state directory, asked through its real socket.
final class DaemonProcess {
    let state: URL
    let socket: String
    let roots: [URL]
    private(set) var process: Process?
    let log: URL
    /// A command kindredd is started through (`unshare …`), which must exec it in place so
    /// signals reach kindredd itself.
    var launcher: [String] = []
    /// Variables added to kindredd's environment (fault injection).
    var environment: [String: String] = [:]
    /// Arguments added to every start (`--config FILE`).
    var extraArguments: [String] = []

    init(state: URL, roots: [URL]) throws {
        self.state = state
        self.roots = roots
        socket = state.deletingLastPathComponent().appendingPathComponent("k.sock").path
        log = state.deletingLastPathComponent().appendingPathComponent("kindredd.log")
        let paths = StatePaths(root: state)
        try paths.create()
        if !FileManager.default.fileExists(atPath: ModelFiles.installed(in: paths).path) {
            try FileManager.default.createDirectory(at: paths.weights, withIntermediateDirectories: true)
            try convertedWeights.write(to: ModelFiles.installed(in: paths))
            try Data(imagenetClassNamesFile.utf8).write(to: ModelFiles.classNames(in: paths))
        }
    }

    func start(extra: [String] = []) throws {
        let process = Process()
        let kindredd = productsDirectory.appendingPathComponent("kindredd")
        let arguments =
            ["--state", state.path, "--socket", socket, "--settle", "0.2", "--threads", "2", "--log-level", "info"]
            + roots.flatMap { ["--watch", $0.path] } + extraArguments + extra
        if launcher.isEmpty {
            process.executableURL = kindredd
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = launcher + [kindredd.path] + arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if !FileManager.default.fileExists(atPath: log.path) {
            FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardError = handle
        try process.run()
        self.process = process
        try waitFor("the socket to answer") { (try? SocketClient(path: socket).send("PING")) == ["OK 1", "pong"] }
        // kindredd answers while it loads its indexes, and refuses the verbs that need them
        // until then: a test's first WATCH or SIMILAR must not race the load.
        try waitFor("the indexes to load") { try status()["index_size"] != "loading" }
    }

    func ask(_ request: String, payload: [UInt8] = []) throws -> [String] {
        try SocketClient(path: socket).send(request, payload: payload)
    }

    /// Polls STATUS on its own thread and collects every `refit_stage` it sees, and every
    /// `refit_progress` in order, until stopped.
    final class StageWatcher: @unchecked Sendable {
        private let seen = Mutex<Set<String>>([])
        let progress = Mutex<[Double]>([])
        private let done = Mutex(false)
        private let finished = DispatchSemaphore(value: 0)

        init(socket: String) throws {
            Thread { [self] in
                defer { finished.signal() }
                while !done.withLock({ $0 }) {
                    let rows = (try? SocketClient(path: socket).send("STATUS")) ?? []
                    if let stage = rows.first(where: { $0.hasPrefix("refit_stage\t") })?.dropFirst(12), !stage.isEmpty {
                        seen.withLock { _ = $0.insert(String(stage)) }
                    }
                    if let done = rows.first(where: { $0.hasPrefix("refit_progress\t") }).flatMap({
                        Double($0.dropFirst(15))
                    }) {
                        progress.withLock { $0.append(done) }
                    }
                    Thread.sleep(forTimeInterval: 0.02)
                }
            }.start()
        }

        func stop() -> Set<String> {
            done.withLock { $0 = true }
            finished.wait()
            return seen.withLock { $0 }
        }
    }

    /// STATUS as a dictionary.
    func status() throws -> [String: String] {
        Dictionary(
            uniqueKeysWithValues: try ask("STATUS").dropFirst().map {
                let fields = $0.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                return (fields[0], fields.count > 1 ? fields[1] : "")
            })
    }

    /// Waits until nothing is pending or scanning and the item counts are as expected: a minute,
    /// or longer for a collection that takes more than a minute at 10 items a second (a 2-core
    /// machine running other suites' daemons beside this one).
    func waitUntilIdle(indexed: Int, failed: Int? = nil, queued: Int = 0) throws {
        let what = "indexed=\(indexed) failed=\(failed.map(String.init) ?? "any") queued=\(queued)"
        try waitFor(what, seconds: max(60, Double(indexed) / 10)) {
            let s = try status()
            // `watching`: the first scan is over, so what changed while kindredd was down is known.
            return s["state"] == "watching" && s["pending"] == "0" && s["scanning"] == "no"
                && s["indexed"] == String(indexed) && s["queued"] == String(queued)
                && (failed == nil || s["failed"] == String(failed!)) && s["index_size"] == String(indexed)
        }
    }

    func waitFor(_ what: String, seconds: Double = 60, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            if let process, !process.isRunning {
                throw DaemonTestError(
                    "kindredd exited (\(process.terminationStatus)) while waiting for \(what); log:\n\(logText)")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw DaemonTestError("timed out waiting for \(what); status: \((try? status()) ?? [:]); log:\n\(logText)")
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits for the exit (at most 60 s, then SIGKILL and an error); returns
    /// the status and the seconds it took.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) throws -> (status: Int32, seconds: Double) {
        guard let process else { return (0, 0) }
        let start = Date()
        kill(process.processIdentifier, signal)
        // A kindredd that does not exit is a failure to report, not a suite that hangs.
        guard waitForExit(seconds: 60) != nil else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            self.process = nil
            throw DaemonTestError("kindredd did not exit within 60 s of signal \(signal)")
        }
        return (process.terminationStatus, Date().timeIntervalSince(start))
    }

    /// Waits for kindredd to exit by itself; its status, or nil if it still runs after `seconds`.
    func waitForExit(seconds: Double) -> Int32? {
        guard let process else { return nil }
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        guard !process.isRunning else { return nil }
        self.process = nil
        return process.terminationStatus
    }

    deinit { if let process, process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
}

struct DaemonTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Neighbour ids of every item, by path: what a restart must reproduce.
func allAnswers(_ daemon: DaemonProcess, paths: [String]) throws -> [String: [String]] {
    var answers: [String: [String]] = [:]
    for path in paths {
        let answer = try daemon.ask(#"SIMILAR "\#(path)" k=5"#)
        answers[path] = Array(answer.dropFirst().map { $0.split(separator: "\t").dropFirst(2).joined(separator: "\t") })
    }
    return answers
}

/// Ten variants (sizes, JPEG qualities) of one picture: a group the CNN sees as one.
///
/// The pictures are random shapes, which an ImageNet CNN tells apart only by detail; variants as
/// small as 200 px at quality 60 lost enough of it that a group's nearest neighbours could lie in
/// another group, and whether HDBSCAN then split or merged groups turned on the vectors' last
/// bits (storing them as float16 flipped it). Variants from 280 px and quality 70 keep each group
/// its own neighbourhood, so the refit tests check cluster identity, not a coin toss.
func variantGroup(_ seed: UInt64, in directory: URL) throws {
    let base = composition(width: 480, height: 360, seed: seed)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for variant in 0..<10 {
        let scaled = base.resized(width: 280 + 20 * variant, height: 210 + 15 * variant)
        try Data(Fixtures.jpeg(scaled, quality: Int32(70 + 2 * variant))).write(
            to: directory.appendingPathComponent("g\(seed)-\(variant).jpg"))
    }
}

/// Copies of group 7's picture (`variantGroup(7, …)`) at `sizes`, as `extra/x7-N.jpg` under `art`:
/// new items that should join group 7's cluster without a refit.
func writeNewCopiesOfGroupSeven(in art: URL, sizes: [(Int, Int)]) throws {
    let picture = composition(width: 480, height: 360, seed: 7)
    let extra = art.appendingPathComponent("extra")
    try FileManager.default.createDirectory(at: extra, withIntermediateDirectories: true)
    for (variant, (width, height)) in sizes.enumerated() {
        try Data(Fixtures.jpeg(picture.resized(width: width, height: height), quality: 85))
            .write(to: extra.appendingPathComponent("x7-\(variant).jpg"))
    }
}

/// Refit settings small collections can cluster with (groups of ten; a cluster needs six, so a
/// tight group cannot split into two halves).
let smallRefitConfiguration = """
    [refit]
    schedule = ""
    after_new_fraction = 0
    neighbors = 5
    min_cluster_size = 6
    min_samples = 3
    cluster_dims = 2
    """

/// k-means with k chosen by silhouette: groups of ten tight variants are found whole whatever
/// UMAP's layout does with them (HDBSCAN on so few points splits or joins whole groups by chance).
let groupsRefitConfiguration = """
    [refit]
    schedule = ""
    after_new_fraction = 0
    neighbors = 5
    algorithm = "kmeans"
    k = "2..8"
    """

/// PING round trips over one connection, in milliseconds.
func pingLatencies(_ socket: String, count: Int) throws -> [Double] {
    let client = try SocketClient(path: socket)
    var latencies: [Double] = []
    for _ in 0..<count {
        let start = ContinuousClock.now
        let answer = try client.send("PING")
        let t = ContinuousClock.now - start
        #expect(answer == ["OK 1", "pong"])
        latencies.append(t.seconds * 1000)
    }
    return latencies
}

func p99(_ values: [Double]) -> Double { values.sorted()[Int(Double(values.count) * 0.99)] }

/// A process's resident memory in MB (`VmRSS`), or its peak so far with `field: "VmHWM"`.
func residentMB(_ pid: Int32, field: String = "VmRSS") -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}

func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
    try runCapturing(executable, arguments).status
}

/// Runs a product to its end: its exit status and what it wrote on standard error. One still
/// running after `timeout` seconds is killed, and its status is SIGKILL's 9.
func runCapturing(
    _ executable: String, _ arguments: [String], timeout: Double = 600
) throws -> (status: Int32, errors: String) {
    let process = Process()
    process.executableURL = productsDirectory.appendingPathComponent(executable)
    process.arguments = arguments
    // A file, not a pipe: a product that logs more than a pipe holds would block on it and never end.
    let directory = temporaryDirectory("stderr"), log = directory.appendingPathComponent("stderr.log")
    FileManager.default.createFile(atPath: log.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: directory) }
    let errors = try FileHandle(forWritingTo: log)
    defer { try? errors.close() }
    process.standardError = errors
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

@Suite(.serialized) struct DaemonTests {
    let root = temporaryDirectory("daemon")

    func image(_ seed: UInt64, _ name: String, in directory: URL, width: Int = 320) throws {
        let picture = composition(width: width, height: 256, seed: seed)
        let bytes =
            name.hasSuffix(".png")
            ? Fixtures.png(picture, kind: .rgb8)
            : name.hasSuffix(".webp") ? Fixtures.webp(picture) : Fixtures.jpeg(picture)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Written beside and renamed in, as a careful copier does; the plain case is covered by the settle delay.
        try Data(bytes).write(to: directory.appendingPathComponent(name))
    }

    @Test func followsTheFileSystemAndAgreesWithOfflineEmbedding() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        for seed in UInt64(1)...5 { try image(seed, "art\(seed)." + ["jpg", "png", "webp"][Int(seed) % 3], in: art) }
        try Data("not an image".utf8).write(to: art.appendingPathComponent("broken.jpg"))
        try Data("ignored: not an image name".utf8).write(to: art.appendingPathComponent("notes.txt"))
        try Data("hidden".utf8).write(to: art.appendingPathComponent(".hidden.jpg"))
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        try daemon.start()

        // Files present at start: indexed, the broken one recorded with its reason; the rest not taken.
        try daemon.waitUntilIdle(indexed: 5, failed: 1)
        // STATUS says where ingestion's time went, stage by stage, for the six files it read.
        let afterScan = try daemon.status()
        #expect(afterScan["ingest_files"] == "6")
        #expect(afterScan["ingest_shared"] == "0", "no two files have the same bytes")
        for stage in ["read", "hash", "decode", "style", "phash", "cnn", "store", "index"] {
            #expect(Double(afterScan["ingest_\(stage)_s"] ?? "") ?? 0 > 0, "\(stage): \(afterScan)")
        }
        #expect(
            try daemon.ask("ERRORS") == [
                "OK 1",
                "\(art.path)/broken.jpg\t\(ImageFormat.unrecognisedReason)",
            ])

        // SIMILAR in the CNN space agrees with `kindred embed --like-daemon` (framed and pooled as
        // kindredd does: StandardSpaces) + exact search.
        let features = root.appendingPathComponent("f.npy").path, pathList = root.appendingPathComponent("p.txt").path
        #expect(
            try run(
                "kindred",
                [
                    "embed", "--like-daemon", "--state", daemon.state.path, "--out", features, "--paths-out", pathList,
                    art.path,
                ]) == 1,
            "broken.jpg fails")
        let offline = try Npy.readMatrix(URL(fileURLWithPath: features))
        let offlinePaths = try String(contentsOfFile: pathList, encoding: .utf8).split(separator: "\n").map(String.init)
        let exact = try ExactSearch.search(base: offline, queries: offline, k: 5, metric: .cosine)
        for (row, path) in offlinePaths.enumerated() {
            let expected = exact[row].map { offlinePaths[Int($0.label)] }.filter { $0 != path }
            let answer = try daemon.ask(#"SIMILAR "\#(path)" k=4 space=cnn"#).dropFirst().map {
                String($0.split(separator: "\t")[3])
            }
            #expect(answer == expected, "\(path)")
        }

        // And in the style space, against `kindred embed --space style --like-daemon`.
        #expect(
            try run(
                "kindred",
                [
                    "embed", "--space", "style", "--like-daemon", "--state", daemon.state.path, "--out", features,
                    "--paths-out", pathList, art.path,
                ]) == 1)
        let styles = try Npy.readMatrix(URL(fileURLWithPath: features))
        let exactStyle = try ExactSearch.search(base: styles, queries: styles, k: 5, metric: .cosine)
        for (row, path) in offlinePaths.enumerated() {
            let expected = exactStyle[row].map { offlinePaths[Int($0.label)] }.filter { $0 != path }
            let answer = try daemon.ask(#"SIMILAR "\#(path)" k=4 space=style"#).dropFirst().map {
                String($0.split(separator: "\t")[3])
            }
            #expect(answer == expected, "style: \(path)")
        }

        // A new file, an overwrite, a rename, a new subdirectory, a deletion.
        try image(11, "new.jpg", in: art)
        let art1ID = try daemon.ask("INFO \(art.path)/art1.png")[1].split(separator: "\t")[1]
        try image(12, "art2.webp", in: art, width: 400)
        try FileManager.default.moveItem(
            at: art.appendingPathComponent("art1.png"), to: art.appendingPathComponent("renamed.png"))
        try image(13, "deep.png", in: art.appendingPathComponent("new folder/inner"))
        try FileManager.default.removeItem(at: art.appendingPathComponent("art3.jpg"))
        try daemon.waitUntilIdle(indexed: 6, failed: 1)
        #expect(try daemon.ask("INFO \(art.path)/renamed.png")[1] == "id\t\(art1ID)", "a rename keeps the id")
        #expect(try daemon.ask("INFO \(art.path)/art3.jpg")[0].hasPrefix("ERR not-found"))
        #expect(try daemon.ask("INFO \"\(art.path)/new folder/inner/deep.png\"").contains("status\tindexed"))
        let overwritten = try Data(contentsOf: art.appendingPathComponent("art2.webp"))
        let byImage = try daemon.ask("SIMILAR-IMAGE \(overwritten.count) k=1", payload: Array(overwritten))
        #expect(
            byImage.count == 2 && byImage[1].hasSuffix("\t\(art.path)/art2.webp") && byImage[1].contains("\t1.0000\t"),
            "the overwrite was re-extracted: \(byImage)")
        #expect(try daemon.ask("INFO \(art.path)/art2.webp").contains("width\t400"))

        // WATCH a second root, then UNWATCH it; RESCAN; protocol errors.
        let more = root.appendingPathComponent("more")
        try image(21, "m1.jpg", in: more)
        try image(22, "m2.png", in: more)
        #expect(try daemon.ask("WATCH \(more.path)") == ["OK 1", more.path])
        try daemon.waitUntilIdle(indexed: 8, failed: 1)
        #expect(
            try daemon.ask("WATCH \"\(art.path)/new folder\"")[0]
                == "ERR bad-request \(art.path)/new folder: already watched as part of \(art.path)")
        #expect(try daemon.ask("UNWATCH \(more.path)") == ["OK 1", "\(more.path)\t2"])
        try daemon.waitUntilIdle(indexed: 6, failed: 1)
        #expect(try daemon.ask("UNWATCH /nowhere")[0].hasPrefix("ERR not-found /nowhere is not a watched root"))
        #expect(try daemon.ask("RESCAN") == ["OK 1", art.path])
        #expect(try daemon.ask("RESCAN /etc") == ["ERR forbidden /etc is outside the watched roots"])
        #expect(
            try daemon.ask("SIMILAR") == [
                "ERR bad-request SIMILAR: missing a path or id; usage: SIMILAR <path|id> [k=10] [space=fused|cnn|style] [explain=0|1] [within=prefix:/dir]"
            ])
        try daemon.waitUntilIdle(indexed: 6, failed: 1)

        // Clean restart: SIGTERM exits 0 promptly with a snapshot, and the answers are identical.
        let paths = try daemon.ask("SIMILAR-IMAGE \(overwritten.count) k=100", payload: Array(overwritten)).dropFirst()
            .map { String($0.split(separator: "\t")[3]) }
        #expect(paths.count == 6)
        let before = try allAnswers(daemon, paths: paths)
        let stopped = try daemon.stop()
        #expect(stopped.status == 0 && stopped.seconds < 10)
        #expect(FileManager.default.fileExists(atPath: daemon.state.appendingPathComponent("index-cnn.hnsw").path))
        #expect(FileManager.default.fileExists(atPath: daemon.state.appendingPathComponent("index-style.hnsw").path))
        try daemon.start()
        try daemon.waitUntilIdle(indexed: 6, failed: 1)
        #expect(try allAnswers(daemon, paths: paths) == before)
        #expect(daemon.logText.contains("snapshot=true"), "the snapshot was loaded, not rebuilt")
        // Each connection is logged with the peer's credentials from the kernel.
        #expect(daemon.logText.contains("uid=\(getuid())") && daemon.logText.contains("pid="), "SO_PEERCRED in the log")

        // The CLI's exit statuses: 0 answered, 1 refused, 2 kindredd not running.
        #expect(try run("kindred", ["errors", "--socket", daemon.socket]) == 0)
        #expect(
            try run("kindred", ["info", "--socket", daemon.socket, art.appendingPathComponent("art3.jpg").path]) == 1)
        // A start from snapshots proved current and a stop with no change between: the snapshots
        // on disk are left as they are.
        let snapshot = daemon.state.appendingPathComponent("index-cnn.hnsw").path
        let written = try FileManager.default.attributesOfItem(atPath: snapshot)[.modificationDate] as? Date
        try daemon.stop()
        #expect(daemon.logText.contains("the snapshots on disk are current; not rewritten"))
        #expect(try FileManager.default.attributesOfItem(atPath: snapshot)[.modificationDate] as? Date == written)
        #expect(try run("kindred", ["status", "--socket", daemon.socket]) == 2)

        // A snapshot of the previous format version (the same graph, the old checksum) is loaded,
        // answers the same, and is rewritten in today's format at the next stop.
        try withLegacyChecksum(Data(contentsOf: URL(fileURLWithPath: snapshot)), version: 2)
            .write(to: URL(fileURLWithPath: snapshot))
        try daemon.start()
        try daemon.waitUntilIdle(indexed: 6, failed: 1)
        #expect(try allAnswers(daemon, paths: paths) == before)
        #expect(daemon.logText.contains("older_format=true"))
        try daemon.stop()
        #expect(try Data(contentsOf: URL(fileURLWithPath: snapshot))[8] == 3)
    }

    @Test func killedMidIngestionItRestartsConsistentWithACleanRebuild() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        for seed in UInt64(1)...6 { try image(seed, "a\(seed).jpg", in: art) }
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        try daemon.start()
        try daemon.waitUntilIdle(indexed: 6)
        // Changes, and a SIGKILL while they are being ingested; more changes while it is down.
        for seed in UInt64(7)...30 { try image(seed, "b\(seed).png", in: art, width: 300 + Int(seed)) }
        Thread.sleep(forTimeInterval: 0.6)
        #expect(try daemon.stop(SIGKILL).status == SIGKILL)
        try FileManager.default.removeItem(at: art.appendingPathComponent("a1.jpg"))
        try FileManager.default.moveItem(
            at: art.appendingPathComponent("a2.jpg"), to: art.appendingPathComponent("moved.jpg"))
        try image(40, "c40.webp", in: art)

        try daemon.start()
        try daemon.waitUntilIdle(indexed: 30)
        let paths = try FileManager.default.contentsOfDirectory(atPath: art.path).map {
            art.appendingPathComponent($0).path
        }.sorted()
        #expect(paths.count == 30)
        let afterKill = try allAnswers(daemon, paths: paths)
        let errors = (try? daemon.ask("ERRORS")) ?? []
        #expect(afterKill.values.allSatisfy { $0.count == 5 }, "\(afterKill.filter { $0.value.count != 5 }); \(errors)")
        let statusAfterKill = try daemon.status()
        try daemon.stop()

        // A clean rebuild (no snapshot) answers the same.
        for space in ["cnn", "style"] {
            try FileManager.default.removeItem(at: daemon.state.appendingPathComponent("index-\(space).hnsw"))
        }
        try daemon.start()
        try daemon.waitUntilIdle(indexed: 30)
        let rebuilt = try allAnswers(daemon, paths: paths)
        #expect(
            rebuilt == afterKill,
            "\(rebuilt.filter { afterKill[$0.key] != $0.value }) vs \(afterKill.filter { rebuilt[$0.key] != $0.value }); status \(statusAfterKill); log:\n\(daemon.logText)"
        )
    }

    func group(_ seed: UInt64, in directory: URL) throws { try variantGroup(seed, in: directory) }

    /// `kindred embed` describes a file once however many paths name it (a symbolic link, a hard
    /// link), and every path still gets its row: the same numbers `--every-path` computes again.
    @Test func embedDescribesALinkedFileOnce() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        for (seed, name) in [(21, "a.png"), (22, "b.jpg"), (23, "c.webp")] { try image(UInt64(seed), name, in: art) }
        try FileManager.default.createSymbolicLink(
            atPath: art.appendingPathComponent("soft.png").path, withDestinationPath: "a.png")
        try FileManager.default.linkItem(
            at: art.appendingPathComponent("b.jpg"), to: art.appendingPathComponent("hard.jpg"))
        let state = try DaemonProcess(state: root.appendingPathComponent("state"), roots: []).state
        let files = ["a.png", "soft.png", "b.jpg", "hard.jpg", "c.webp"].map { art.appendingPathComponent($0).path }

        func embed(_ extra: [String]) throws -> (rows: [[Float]], report: [String: Any]) {
            let out = root.appendingPathComponent("e\(extra.count).npy").path
            let process = Process()
            process.executableURL = productsDirectory.appendingPathComponent("kindred")
            process.arguments = ["embed", "--like-daemon", "--state", state.path, "--out", out] + extra + files
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            let matrix = try Npy.readMatrix(URL(fileURLWithPath: out))
            let rows = (0..<matrix.rows).map {
                Array(matrix.storage[($0 * matrix.columns)..<(($0 + 1) * matrix.columns)])
            }
            return (rows, try JSONSerialization.jsonObject(with: output) as? [String: Any] ?? [:])
        }
        let once = try embed([])
        #expect(once.report["images"] as? Int == 5)
        #expect(once.report["files_described"] as? Int == 3)
        #expect(once.rows.count == 5)
        #expect(once.rows[1] == once.rows[0], "the symbolic link has its target's row")
        #expect(once.rows[3] == once.rows[2], "the hard link has its other name's row")
        #expect(once.rows[0] != once.rows[2])
        let every = try embed(["--every-path"])
        #expect(every.report["files_described"] as? Int == 5)
        #expect(every.rows == once.rows, "describing a file again gives the same numbers")
    }

    /// `kindred embed`'s list of files it did not describe (on stderr, a line each) keeps each
    /// name on its line: a missing path and a file that is not an image, both named with a newline.
    @Test func embedListsFailuresOneLineEach() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        try image(31, "good.png", in: art)
        try Data("not an image".utf8).write(to: art.appendingPathComponent("bad\nname.png"))
        let state = try DaemonProcess(state: root.appendingPathComponent("state"), roots: []).state
        let process = Process(), errors = Pipe()
        process.executableURL = productsDirectory.appendingPathComponent("kindred")
        process.arguments = [
            "embed", "--space", "style", "--state", state.path, "--out", root.appendingPathComponent("s.npy").path,
            art.path, root.appendingPathComponent("gone\npath.png").path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "a failure exits 1")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.contains { $0.hasSuffix(#"gone\npath.png\#tno such file or directory"#) }, "\(lines)")
        #expect(lines.contains { $0.contains(#"bad\nname.png\#t"#) }, "\(lines)")
    }

    /// The placement model is saved with the run: after a restart, items indexed before the next
    /// refit are still placed on the map and in their picture's cluster. A damaged saved model is
    /// refused with the reason in the log, and the daemon keeps serving.
    @Test func placementSurvivesARestart() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        for seed in UInt64(1)...3 { try group(seed * 7, in: art) }
        let config = root.appendingPathComponent("kindred.toml")
        try Data(smallRefitConfiguration.utf8).write(to: config)
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        daemon.extraArguments = ["--config", config.path]
        try daemon.start()
        try daemon.waitUntilIdle(indexed: 30)
        let run = try daemon.ask("REFIT wait")
        #expect(run.contains("clusters\t3"), "\(run)")
        #expect(try daemon.stop().status == 0)
        let saved = try FileManager.default.contentsOfDirectory(atPath: daemon.state.path).filter {
            $0.hasPrefix("placement-")
        }
        #expect(saved == ["placement-1"], "\(saved)")

        try daemon.start()
        try daemon.waitUntilIdle(indexed: 30)
        let before = try daemon.ask("MAP").dropFirst().map { $0.split(separator: "\t").map(String.init) }
        let clusterOf7 = Set(before.filter { $0[1].contains("/g7-") }.map { $0[4] })
        try writeNewCopiesOfGroupSeven(in: art, sizes: (0..<3).map { (300 + 30 * $0, 225 + 22 * $0) })
        try daemon.waitUntilIdle(indexed: 33)
        try daemon.waitFor("the new items placed after the restart", seconds: 30) { try daemon.ask("MAP").count == 34 }
        let rows = try daemon.ask("MAP").dropFirst().map { $0.split(separator: "\t").map(String.init) }
        let clusterOfNew = Set(rows.filter { $0[1].contains("/x7-") }.map { $0[4] })
        #expect(clusterOf7.count == 1 && clusterOfNew == clusterOf7, "\(clusterOf7) \(clusterOfNew)")
        #expect(daemon.logText.contains("placement model read back"))

        // A damaged model: the next items wait, the reason is logged, the daemon answers.
        #expect(try daemon.stop().status == 0)
        let meta = daemon.state.appendingPathComponent("placement-1/tree.npy")
        var bytes = try Data(contentsOf: meta)
        bytes.replaceSubrange((bytes.count - 24)..<bytes.count, with: [UInt8](repeating: 0xFF, count: 24))
        try bytes.write(to: meta)
        try daemon.start()
        try daemon.waitUntilIdle(indexed: 33)
        try Data(
            Fixtures.jpeg(composition(width: 480, height: 360, seed: 7).resized(width: 350, height: 262), quality: 80)
        )
        .write(to: art.appendingPathComponent("extra/x7-late.jpg"))
        try daemon.waitUntilIdle(indexed: 34)
        try daemon.waitFor("the refusal in the log", seconds: 30) {
            daemon.logText.contains("placement model unreadable")
        }
        #expect(try daemon.ask("MAP").count == 34, "the late item waits for the next refit")
        #expect(try daemon.ask("PING") == ["OK 1", "pong"])
        try daemon.stop()
    }

    /// Above `umap_sample` items UMAP is fitted on a sample and the others are placed by its
    /// transform: every item is on the map, beside its own picture's variants.
    @Test func aRefitFittedOnASamplePlacesEveryItem() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        for seed in UInt64(1)...3 { try group(seed * 7, in: art) }
        let config = root.appendingPathComponent("kindred.toml")
        try Data((groupsRefitConfiguration + "\numap_sample = 15\n").utf8).write(to: config)
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        try daemon.start(extra: ["--config", config.path])
        try daemon.waitUntilIdle(indexed: 30)
        let run = try daemon.ask("REFIT wait")
        #expect(run.contains("clusters\t3") && run.contains("items\t30"), "\(run)")
        #expect(daemon.logText.contains("UMAP fitted on a sample"), "the sample path ran")
        let rows = try daemon.ask("MAP").dropFirst().map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.count == 30)
        // Each item's nearest other item on the 2-D map shows the same picture (its group's prefix).
        let points = rows.map { row -> (group: Substring, x: Double, y: Double) in
            let name = URL(fileURLWithPath: row[1]).lastPathComponent
            return (name.prefix { $0 != "-" }, Double(row[2]) ?? .nan, Double(row[3]) ?? .nan)
        }
        #expect(points.allSatisfy { $0.x.isFinite && $0.y.isFinite }, "\(rows)")
        let besideItsOwn = points.indices.filter { i in
            let nearest = points.indices.filter { $0 != i }.min {
                hypot(points[$0].x - points[i].x, points[$0].y - points[i].y)
                    < hypot(points[$1].x - points[i].x, points[$1].y - points[i].y)
            }!
            return points[nearest].group == points[i].group
        }
        #expect(besideItsOwn.count >= 27, "\(besideItsOwn.count) of 30 beside their own group; \(points)")
        try daemon.stop()
    }

    @Test func refitsGroupTheCollectionAndKeepClusterIdentities() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        for seed in UInt64(1)...3 { try group(seed * 7, in: art) }
        let config = root.appendingPathComponent("kindred.toml")
        try Data(groupsRefitConfiguration.utf8).write(to: config)
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        try daemon.start(extra: ["--config", config.path])
        try daemon.waitUntilIdle(indexed: 30)
        #expect(try daemon.ask("CLUSTERS") == ["ERR unavailable no refit has finished yet; REFIT wait starts one"])

        // While the refit runs, STATUS names its stage; between runs the stage is empty.
        let watcher = try DaemonProcess.StageWatcher(socket: daemon.socket)
        let first = try daemon.ask("REFIT wait")
        let stages = watcher.stop()
        print("refit stages seen by STATUS: \(stages.sorted())")
        #expect(
            first.contains("clusters\t3") && first.contains("items\t30") && first.contains("new_clusters\t3"),
            "\(first)")
        #expect(
            stages.isSubset(of: [
                "read", "pca", "neighbours", "sample_graph", "umap_maps", "cluster", "metrics", "record",
            ]), "\(stages)"
        )
        #expect(try daemon.status()["refit_stage"] == "" && daemon.status()["refit_progress"] == "")
        #expect(try daemon.status()["index_loading"] == "", "nothing is built once the indexes are open")
        let progress = watcher.progress.withLock { $0 }
        #expect(
            progress.allSatisfy { (0...1).contains($0) } && progress == progress.sorted(),
            "refit_progress only grows, within 0…1: \(progress)")
        let clusters = try daemon.ask("CLUSTERS").dropFirst().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        #expect(
            clusters.count == 3 && clusters.allSatisfy { $0[2] == "10" && $0[3].hasPrefix(art.path) && $0[5] == "1" })
        // Files directly in the root have no folder to be named by: each label is ImageNet classes.
        #expect(clusters.allSatisfy { !$0[1].isEmpty && !$0[1].contains(" · ") }, "\(clusters.map { $0[1] })")
        // Each cluster is one picture's variants.
        for row in clusters {
            let members = try daemon.ask("CLUSTER \(row[0]) limit=100").dropFirst().map {
                String($0.split(separator: "\t")[2])
            }
            let pictures = Set(members.map { URL(fileURLWithPath: $0).lastPathComponent.prefix { $0 != "-" } })
            #expect(members.count == 10 && pictures.count == 1, "\(members)")
        }
        let map2 = try daemon.ask("MAP"), map3 = try daemon.ask("MAP dims=3")
        #expect(map2.count == 31 && map2.dropFirst().allSatisfy { $0.split(separator: "\t").count == 5 })
        #expect(map3.count == 31 && map3.dropFirst().allSatisfy { $0.split(separator: "\t").count == 6 })

        // A user names a cluster (admin verb; the test runs as kindredd's own user); the name is
        // checked at the border, and an id the run lacks is refused.
        let named = clusters[0][0]
        #expect(
            try daemon.ask("NAME-CLUSTER \(named) \"Moons, waxing\"")
                == ["OK 1", "\(named)\tMoons, waxing\t\(clusters[0][1])"])
        #expect(try daemon.ask("NAME-CLUSTER 999 x").first?.hasPrefix("ERR not-found") == true)
        #expect(try daemon.ask("NAME-CLUSTER \(named) \"a\\tb\"").first?.hasPrefix("ERR bad-request") == true)
        #expect(
            try daemon.ask("NAME-CLUSTER \(named) \(String(repeating: "x", count: 81))").first?.hasPrefix(
                "ERR bad-request") == true)

        // A fourth group arrives; the next run keeps the three ids and adds one.
        try group(99, in: art.appendingPathComponent("later"))
        try daemon.waitUntilIdle(indexed: 40)
        let second = try daemon.ask("REFIT wait")
        #expect(
            second.contains("clusters\t4") && second.contains("new_clusters\t1")
                && second.contains("vanished_clusters\t0"), "\(second)")
        let after = try daemon.ask("CLUSTERS").dropFirst().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        let kept = Set(clusters.map { $0[0] })
        #expect(Set(after.map { $0[0] }).isSuperset(of: kept))
        #expect(after.filter { kept.contains($0[0]) }.allSatisfy { $0[5] == "2" }, "old clusters are two runs old")
        // The name followed its id into the new run; the new cluster is named by its folder.
        #expect(after.first { $0[0] == named }?[1] == "Moons, waxing", "\(after)")
        let newcomer = after.first { !kept.contains($0[0]) }
        #expect(newcomer?[1].hasPrefix("later · ") == true, "\(String(describing: newcomer))")
        #expect(try daemon.ask("RUNS").count == 3)
        #expect(try daemon.ask("STATUS").contains("clusters\t4"))

        // The CLI: clusters as JSON objects; the map exported as CSV.
        let json = Process(), pipe = Pipe()
        json.executableURL = productsDirectory.appendingPathComponent("kindred")
        json.arguments = ["clusters", "--json", "--socket", daemon.socket]
        json.standardOutput = pipe
        try json.run()
        json.waitUntilExit()
        let objects =
            try JSONSerialization.jsonObject(with: pipe.fileHandleForReading.readDataToEndOfFile()) as? [[String: Any]]
        #expect(
            objects?.count == 4
                && objects?.allSatisfy {
                    $0["id"] is Int && $0["size"] is Int && $0["exemplar"] is String && $0["silhouette"] is Double
                } == true)
        // --json for jq: a key/value answer is one object, any other an array of objects by column,
        // a refusal {"error", "message"} with status 1.
        let status = try jsonLine("kindred", ["status", "--json", "--socket", daemon.socket])
        #expect(status["indexed"] as? String == "40" && status["state"] as? String == "watching", "\(status)")
        let (similarStatus, similarJSON) = try jsonOutput(
            "kindred", ["similar", "1", "-k", "3", "--json", "--socket", daemon.socket])
        let neighbours = similarJSON as? [[String: String]]
        #expect(similarStatus == 0 && neighbours?.count == 3, "\(String(describing: similarJSON))")
        #expect(
            neighbours?.allSatisfy {
                Set($0.keys) == ["rank", "score", "id", "path"] && $0["path"]!.hasPrefix(art.path)
            } == true)
        let (refusedStatus, refused) = try jsonOutput(
            "kindred", ["info", "999999", "--json", "--socket", daemon.socket])
        #expect(
            refusedStatus == 1 && (refused as? [String: String])?["error"] == "not-found",
            "\(String(describing: refused))")

        // Duplicates: each picture's ten variants, the largest kept; --keep prints the rest.
        let pruning = Process(), pruned = Pipe()
        pruning.executableURL = productsDirectory.appendingPathComponent("kindred")
        pruning.arguments = ["duplicates", "--tier", "near", "--keep", "--socket", daemon.socket]
        pruning.standardOutput = pruned
        try pruning.run()
        let couldGo = String(decoding: pruned.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        pruning.waitUntilExit()
        #expect(pruning.terminationStatus == 0 && !couldGo.isEmpty, "\(couldGo)")
        #expect(couldGo.allSatisfy { $0.hasPrefix(art.path) && !$0.hasSuffix("-9.jpg") }, "\(couldGo)")

        // Everything out, read from the state directory: one .npy a field, and JSON lines.
        let exported = root.appendingPathComponent("exported")
        #expect(
            try run("kindred", ["export", "--state", daemon.state.path, "--format", "npy-dir", "--out", exported.path])
                == 0)
        let ids = try Npy.read(exported.appendingPathComponent("id.npy"), as: Int64.self).values
        let exportedPaths = try Npy.readStrings(exported.appendingPathComponent("path.npy"))
        let cnn = try Npy.readMatrix(exported.appendingPathComponent("cnn.npy"))
        let labels = try Npy.read(exported.appendingPathComponent("cluster.npy"), as: Int64.self).values
        #expect(
            ids.count == 40 && exportedPaths.count == 40 && cnn.rows == 40 && cnn.columns == 1280 && labels.count == 40)
        #expect(
            exportedPaths.allSatisfy { $0.hasPrefix(art.path) }
                && Set(labels).isSubset(of: Set(after.map { Int64($0[0])! }) + [-1]))
        let lines = root.appendingPathComponent("exported.jsonl")
        #expect(
            try run("kindred", ["export", "--state", daemon.state.path, "--format", "jsonl", "--out", lines.path]) == 0)
        let rowsOut = try String(contentsOf: lines, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
        #expect(rowsOut.count == 40 && rowsOut.map { ($0["id"] as? Int).map(Int64.init) } == ids.map { $0 })
        #expect(
            rowsOut.allSatisfy { ($0["cnn"] as? [Double])?.count == 1280 && ($0["style"] as? [Double])?.count == 142 })
        #expect(zip(rowsOut, exportedPaths).allSatisfy { $0["path"] as? String == $1 })

        // Every export format read back by numpy and the json module, against the store and kindredd.
        let reference = root.appendingPathComponent("reference")
        try FileManager.default.createDirectory(at: reference, withIntermediateDirectories: true)
        do {
            let store = try VectorStore(
                directory: StatePaths(root: daemon.state).vectors, spaces: [], includeRegistered: true,
                logger: testLogger)
            let (storedIDs, storedCNN) = try store.readMatrix(space: "cnn")
            let (styleIDs, storedStyle) = try store.readMatrix(space: "style")
            #expect(storedIDs == styleIDs)
            let clusterOf = Dictionary(
                uniqueKeysWithValues: try daemon.ask("MAP").dropFirst().map {
                    let fields = $0.split(separator: "\t").map(String.init)
                    return (Int64(fields[0])!, Int64(fields[4])!)
                })
            let storedLabels = storedIDs.map { clusterOf[Int64($0.rawValue)] ?? -1 }
            try Npy.write(
                NpyArray(shape: [storedIDs.count], values: storedIDs.map { Int64($0.rawValue) }),
                to: reference.appendingPathComponent("id.npy"))
            try Npy.write(storedCNN, to: reference.appendingPathComponent("cnn.npy"))
            try Npy.write(storedStyle, to: reference.appendingPathComponent("style.npy"))
            try Npy.write(
                NpyArray(shape: [storedLabels.count], values: storedLabels),
                to: reference.appendingPathComponent("cluster.npy"))
        }
        let milvus = root.appendingPathComponent("milvus.json"), qdrant = root.appendingPathComponent("qdrant")
        for (format, out) in [("milvus-json", milvus), ("qdrant", qdrant)] {
            #expect(
                try run("kindred", ["export", "--state", daemon.state.path, "--format", format, "--out", out.path]) == 0
            )
        }
        let checker = Process(), checked = Pipe()
        checker.executableURL = URL(fileURLWithPath: numpyPython)
        checker.arguments = [
            packageRoot.appendingPathComponent("Tests/Support/check_export.py").path, reference.path,
            "--npy-dir", exported.path, "--jsonl", lines.path, "--milvus", milvus.path, "--qdrant", qdrant.path,
        ]
        checker.standardOutput = checked
        try checker.run()
        checker.waitUntilExit()
        let verdict = String(decoding: checked.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(
            checker.terminationStatus == 0
                && verdict.contains("\"checked\": [\"npy-dir\", \"jsonl\", \"milvus-json\", \"qdrant\"]"),
            "\(verdict)")

        let csv = root.appendingPathComponent("map.csv")
        #expect(try run("kindred", ["export", "--socket", daemon.socket, "--format", "csv", "--out", csv.path]) == 0)
        #expect(try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").count == 41)

        // Between refits, new items join the current run: placed on the map, in their picture's cluster.
        try writeNewCopiesOfGroupSeven(in: art, sizes: (0..<3).map { (230 + 40 * $0, 170 + 30 * $0) })
        try daemon.waitUntilIdle(indexed: 43)
        try daemon.waitFor("the new items on the map", seconds: 30) { try daemon.ask("MAP").count == 44 }
        let rows = try daemon.ask("MAP").dropFirst().map { $0.split(separator: "\t").map(String.init) }
        let clusterOf7 = Set(rows.filter { $0[1].contains("/g7-") }.map { $0[4] })
        let clusterOfNew = Set(rows.filter { $0[1].contains("/x7-") }.map { $0[4] })
        #expect(clusterOf7.count == 1 && clusterOfNew == clusterOf7, "\(clusterOf7) \(clusterOfNew)")

        // What people look at, from the live state: the map (every item, every thumbnail, each
        // new item's neighbours its own picture's variants), the report, a contact sheet.
        let page = root.appendingPathComponent("map.html")
        let map = try jsonLine(
            "kindred", ["map", "--state", daemon.state.path, "--out", page.path, "--thumb-size", "32"])
        #expect(map["points"] as? Int == 43 && map["thumbnail_failures"] as? Int == 0, "\(map)")
        // At 32 px the thumbnails kindredd kept at ingestion serve, read beside the running daemon.
        let stored = try jsonLine(
            "kindred", ["map", "--state", daemon.state.path, "--out", page.path, "--thumb-size", "32"])
        #expect(stored["thumbnails_stored"] as? Int == 43 && stored["thumbnail_failures"] as? Int == 0, "\(stored)")
        // Every neighbour in the run is explained from the stored vectors (43 items, 8 neighbours each
        // at most, fewer where a neighbour joined after the run).
        let explained = stored["explained_pairs"] as? Int ?? 0
        #expect(explained > 43 * 4 && explained <= 43 * 8, "\(stored)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.contains("\"neighbourCount\":8") && html.contains("x7-0.jpg"))
        let report = try jsonLine(
            "kindred",
            ["report", "--state", daemon.state.path, "--out", root.appendingPathComponent("report.html").path])
        // A k-means run also draws how k was chosen.
        #expect(report["charts"] as? [String] == ["scree", "knife", "sizes", "k_selection"], "\(report)")
        let reportHTML = try String(contentsOf: root.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(reportHTML.contains("Moons, waxing"), "the report shows the cluster's name")
        let sheet = try jsonLine(
            "kindred",
            [
                "sheet", "--socket", daemon.socket, "--cluster", clusterOf7.first!, "--count", "6",
                "--out", root.appendingPathComponent("sheet.jpg").path,
            ])
        #expect(sheet["images"] as? Int == 6 && sheet["failures"] as? Int == 0, "\(sheet)")
        let similar = try jsonLine(
            "kindred",
            [
                "sheet", "--socket", daemon.socket, "--similar", art.appendingPathComponent("extra/x7-1.jpg").path,
                "--count", "4", "--out", root.appendingPathComponent("similar.jpg").path,
            ])
        #expect(similar["images"] as? Int == 4, "\(similar)")
    }
}

/// A command's exit status and its standard output, as bytes.
func commandOutput(_ executable: String, _ arguments: [String]) throws -> (Int32, Data) {
    let process = Process(), output = Pipe()
    process.executableURL = productsDirectory.appendingPathComponent(executable)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, data)
}

/// A command's exit status and its standard output parsed as JSON.
func jsonOutput(_ executable: String, _ arguments: [String]) throws -> (Int32, Any?) {
    let (status, data) = try commandOutput(executable, arguments)
    return (status, try? JSONSerialization.jsonObject(with: data))
}

func jsonLine(_ executable: String, _ arguments: [String]) throws -> [String: Any] {
    let (status, object) = try jsonOutput(executable, arguments)
    #expect(status == 0, "\(executable) \(arguments)")
    return object as? [String: Any] ?? [:]
}
