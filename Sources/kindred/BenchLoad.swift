import ArgumentParser
import Foundation
import KindredCore
import KindredProtocol
import KindredStore
import Logging
import Synchronization

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a running kindredd.",
        subcommands: [BenchLoad.self]
    )
}

/// Closed-loop load over the socket: each client sends one request, waits for the whole answer,
/// and sends the next, so latency includes the socket, parsing, the search and the encoding.
struct BenchLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Send requests from concurrent clients and report QPS and latency percentiles.",
        discussion: """
            Each client cycles through --mix. SIMILAR queries items by id, drawn at random from the catalog's \
            indexed items when --state names kindredd's state directory (read-only), else from 1…index_size. \
            Prints one JSON line: requests, errors, qps, and p50/p99/p999 in milliseconds, overall and per verb; \
            the CPU a request took in kindredd (daemon_cpu_ms_per_request, from /proc; daemon_cores is its \
            average use) and in this process (client_cpu_ms_per_request). With several rankings (--space fused,cnn) \
            each SIMILAR turn asks every one of them about the same item, in an order that rotates from turn to \
            turn, and each ranking's percentiles appear as similar_<ranking>: rankings compared under one load, \
            on one machine's noise, rather than in runs minutes apart. With --phase-seconds S every client asks \
            the first ranking for S seconds, then the next, and so on in turn: each ranking queues behind its own \
            kind only, as in a daemon answering that ranking alone, while the phases share the noise.
            """
    )

    enum Kind: String, CaseIterable, ExpressibleByArgument { case similar, status, ping, info }

    @Option(help: "kindredd's socket (default: $XDG_RUNTIME_DIR/kindred/kindred.sock).") var socket: String?
    @Option(name: .customLong("state"), help: "kindredd's state directory, to draw item ids from its catalog.")
    var stateDirectory: String?
    @Option(help: "Concurrent connections.") var clients = 8
    @Option(help: "How long to run.") var seconds = 30.0
    @Option(help: "Comma-separated request kinds: similar, status, ping, info.") var mix = "similar"
    @Option(name: .short, help: "Neighbours per SIMILAR.") var k = 10
    @Option(
        help: "How SIMILAR ranks: fused (the daemon's default), cnn or style; several, comma-separated, interleaved.")
    var space = "fused"
    @Option(
        help: "With several rankings: switch every client from one to the next each this many seconds (0: per request)."
    )
    var phaseSeconds = 0.0
    @Option(help: "Seeds the choice of ids.") var seed: UInt64 = 1

    func validate() throws {
        // Bounded above and below so the deadline's milliseconds and a phase's number fit an Int.
        guard clients >= 1, clients <= 4096, seconds > 0, seconds <= 1_000_000, k >= 1,
            phaseSeconds == 0 || (phaseSeconds >= 0.001 && phaseSeconds <= 1_000_000)
        else {
            throw ValidationError(
                "--clients 1…4096, --seconds 0…1,000,000, -k ≥ 1 and --phase-seconds 0 or 0.001…1,000,000")
        }
        for kind in mix.split(separator: ",") where Kind(rawValue: String(kind)) == nil {
            throw ValidationError(
                "--mix: '\(kind)' is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let names = space.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for name in names where Ranking(rawValue: name) == nil {
            throw ValidationError(
                "--space: '\(name)' is not one of \(Ranking.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard Set(names).count == names.count else { throw ValidationError("--space: a ranking is named twice") }
    }

    /// The rankings `--space` names, in its order (checked by `validate`).
    private var rankings: [Ranking] { space.split(separator: ",").map { Ranking(rawValue: String($0))! } }

    func run() throws {
        let path = SocketPath.resolve(explicit: socket)
        let kinds = mix.split(separator: ",").map { Kind(rawValue: String($0))! }
        let rankings = self.rankings
        let ids = try itemIDs(path)
        guard !ids.isEmpty || !kinds.contains(where: { $0 == .similar || $0 == .info }) else {
            throw ValidationError("kindredd has no indexed items to query")
        }
        // Connect everyone first, so connection set-up is not timed.
        var connections: [SocketClient] = []
        for _ in 0..<clients {
            do { connections.append(try SocketClient(path: path)) } catch {
                FileHandle.standardError.write(Data("kindred: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        // CPU per request, the daemon's and this process's: with the clients on the daemon's
        // cores, latency under load is CPU per request (Little's law), so the output says where
        // it goes.
        let daemon = connections[0].peer.map { ProcessCPU(pid: $0.pid) }
        let daemonBefore = daemon?.seconds()
        let clientBefore = ProcessCPU.ownSeconds()
        // By what the JSON calls them: the verb, or similar_<ranking> when rankings are compared.
        let latencies = Mutex<[String: [Double]]>([:])
        let errors = Atomic<Int>(0)
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let start = ContinuousClock.now
        let boxed = UnsafeSendableBox(connections)
        // Requests in flight at once, and the most seen: the output shows the clients really ran
        // together.
        let inFlight = Atomic<Int>(0), peak = Atomic<Int>(0)
        /// Milliseconds `request` took to be answered over `connection`; an error is counted.
        @Sendable func ask(_ request: Request, on connection: SocketClient) -> Double {
            let sent = ContinuousClock.now
            let now = inFlight.add(1, ordering: .relaxed).newValue
            var seen = peak.load(ordering: .relaxed)
            while now > seen {
                let (exchanged, original) = peak.compareExchange(
                    expected: seen, desired: now, ordering: .relaxed)
                if exchanged { break }
                seen = original
            }
            let answer = try? connection.ask(request)
            inFlight.subtract(1, ordering: .relaxed)
            let took = ContinuousClock.now - sent
            if case .success = answer {} else { errors.add(1, ordering: .relaxed) }
            return took.seconds * 1000
        }
        // A thread per client, not `concurrentPerform`: that runs as many iterations at once as
        // there are cores, so on 2 cores "8 clients" were 2 (until 12-03; RESULTS.md says which
        // figures that affected).
        @Sendable func runClient(_ client: Int) {
            let connection = boxed.value[client]
            var random = SeededRandom(seed: seed &+ UInt64(client))
            var mine: [String: [Double]] = [:]
            var turn = 0
            while ContinuousClock.now < deadline {
                let kind = kinds[turn % kinds.count]
                turn += 1
                let requests: [(name: String, request: Request)]
                switch kind {
                case .similar:
                    let item = Target.id(ItemID(ids[random.below(ids.count)]))
                    // Per request: each ranking first as often as the others (the first asks with
                    // the item's vectors out of the cache). By phase: the phase's ranking only.
                    let asked: [Ranking]
                    if phaseSeconds > 0 {
                        asked = [rankings[Int(elapsed(since: start) / phaseSeconds) % rankings.count]]
                    } else {
                        let first = turn % rankings.count
                        asked = Array(rankings[first...] + rankings[..<first])
                    }
                    requests = asked.map { ranking in
                        (
                            rankings.count == 1 ? kind.rawValue : "\(kind.rawValue)_\(ranking.rawValue)",
                            .similar(item, SimilarQuery(k: k, ranking: ranking), within: nil)
                        )
                    }
                case .info: requests = [(kind.rawValue, .info(.id(ItemID(ids[random.below(ids.count)]))))]
                case .status: requests = [(kind.rawValue, .status)]
                case .ping: requests = [(kind.rawValue, .ping)]
                }
                for (name, request) in requests where ContinuousClock.now < deadline {
                    mine[name, default: []].append(ask(request, on: connection))
                }
            }
            latencies.withLock { all in for (name, values) in mine { all[name, default: []] += values } }
        }
        let finished = DispatchGroup()
        for client in 0..<clients {
            finished.enter()
            Thread.detachNewThread {
                defer { finished.leave() }
                runClient(client)
            }
        }
        finished.wait()
        let wall = elapsed(since: start)
        let clientCPU = ProcessCPU.ownSeconds() - clientBefore
        let daemonCPU = daemonBefore.flatMap { before in daemon?.seconds().map { $0 - before } }
        let byKind = latencies.withLock { $0 }
        let all = byKind.values.flatMap { $0 }.sorted()
        var result: [String: Any] = [
            "clients": clients, "peak_in_flight": peak.load(ordering: .relaxed), "seconds": wall,
            "requests": all.count, "errors": errors.load(ordering: .relaxed),
            "qps": (Double(all.count) / wall).rounded(), "items": ids.count, "mix": mix,
        ]
        func perRequest(_ seconds: Double) -> Double { (seconds / Double(max(all.count, 1)) * 1e6).rounded() / 1000 }
        result["client_cpu_ms_per_request"] = perRequest(clientCPU)
        if let daemonCPU {
            result["daemon_cpu_ms_per_request"] = perRequest(daemonCPU)
            result["daemon_cores"] = (daemonCPU / wall * 100).rounded() / 100
        }
        result.merge(Self.percentiles(all)) { $1 }
        for (name, values) in byKind {
            result[name] = Self.percentiles(values.sorted()).merging(["requests": values.count]) { $1 }
        }
        printJSONLine(result)
    }

    private func itemIDs(_ path: String) throws -> [UInt64] {
        if let stateDirectory {
            let catalog = try Catalog(
                url: StatePaths(root: URL(fileURLWithPath: stateDirectory)).catalog,
                logger: Logger(label: "kindred.bench"))
            return try catalog.itemIDs(status: .indexed).map(\.rawValue)
        }
        let status = (try? SocketClient(path: path).ask(.status).get()) ?? []
        let size = status.first { $0.first == "index_size" }.flatMap { UInt64($0.last ?? "") } ?? 0
        return size == 0 ? [] : Array(1...size)
    }

    static func percentiles(_ sorted: [Double]) -> [String: Any] {
        guard !sorted.isEmpty else { return [:] }
        func at(_ q: Double) -> Double {
            (sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] * 1000).rounded() / 1000
        }
        return [
            "p50_ms": at(0.5), "p99_ms": at(0.99), "p999_ms": at(0.999),
            "max_ms": (sorted.last! * 1000).rounded() / 1000,
        ]
    }
}

/// CPU time a process has used (user + system), from /proc/PID/stat: the daemon's share of a load
/// run, read from outside it.
struct ProcessCPU {
    let pid: Int32

    /// Seconds of CPU so far; nil when the process is gone or its stat cannot be read.
    func seconds() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After the command name: state (field 3) … utime (14), stime (15), in clock ticks.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Seconds of CPU this process has used, all its threads.
    static func ownSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
