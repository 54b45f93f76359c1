import Foundation
import KindredProtocol
import KindredTestSupport
import Synchronization
import Testing

/// kindredd under hostile clients, through its real socket: it must keep answering everyone
/// else and keep its memory bounded. Latency is a benchmark figure (the test prints it, RESULTS.md
/// keeps it); what the test asserts is that no hostile client stalls the others, with a bound far
/// above a busy machine's scheduling delays and far below the stall a blocking server would show.
@Suite(.serialized) struct ProtocolAbuseTests {
    let root = temporaryDirectory("abuse")

    /// A raw connection, for clients that misbehave in ways `SocketClient` would not.
    final class RawConnection: Sendable {
        let fd: Int32
        init(_ path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard connected == 0 else { throw DaemonTestError("connect: \(String(cString: strerror(errno)))") }
        }
        func send(_ bytes: [UInt8]) {
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + sent, bytes.count - sent) }
                if n <= 0 { return }
                sent += n
            }
        }
        /// Reads until `lines` newlines have arrived (or the peer closes).
        func read(lines: Int) -> [String] {
            var buffer: [UInt8] = [], count = 0
            var chunk = [UInt8](repeating: 0, count: 65536)
            while count < lines {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, 65536) }
                if n <= 0 { break }
                buffer += chunk[0..<n]
                count += chunk[0..<n].filter { $0 == 0x0A }.count
            }
            return String(decoding: buffer, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        /// How a `count` ended: `lines` newlines arrived, the peer closed, or a read failed (the
        /// `timeout` passed with nothing to read).
        enum End { case lines, closed, failed }

        /// Reads up to `lines` newlines in reads of at most `chunk` bytes, sleeping `pause`
        /// seconds after each, and counts them; a read waits at most `timeout` seconds.
        func count(lines: Int, chunk: Int = 65536, pause: Double = 0, timeout: Int = 0) -> (lines: Int, end: End) {
            var wait = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            var bytes = [UInt8](repeating: 0, count: chunk), count = 0
            while count < lines {
                let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, chunk) }
                if n <= 0 { return (count, n == 0 ? .closed : .failed) }
                count += bytes[0..<n].filter { $0 == 0x0A }.count
                if pause > 0 { Thread.sleep(forTimeInterval: pause) }
            }
            return (count, .lines)
        }
        deinit { close(fd) }
    }

    /// A kindredd with no roots, started with `config` as its configuration file.
    func startDaemon(config: String) throws -> DaemonProcess {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let file = root.appendingPathComponent("kindred.toml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [])
        try daemon.start(extra: ["--config", file.path])
        return daemon
    }

    @Test func staysResponsiveWithBoundedMemory() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        try FileManager.default.createDirectory(at: art, withIntermediateDirectories: true)
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        try daemon.start()
        try daemon.waitUntilIdle(indexed: 0)
        let pid = daemon.process!.processIdentifier

        // 1,000 idle connections and one sending binary garbage; the first PING waits behind them
        // (~0.1 s in a debug build). Then a client sends PING a byte per 250 ms while we measure: a
        // server that waited for its line would hold every PING for up to a second.
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = max(limit.rlim_cur, min(limit.rlim_max, 4096))
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let idle = try (0..<1000).map { _ in try RawConnection(daemon.socket) }
        let garbage = try RawConnection(daemon.socket)
        var random = SystemRandomNumberGenerator()
        garbage.send((0..<100_000).map { _ in UInt8.random(in: 0...255, using: &random) } + [0x0A])
        let stall = 500.0  // ms
        let backlog = try pingLatencies(daemon.socket, count: 1)[0]
        #expect(backlog < 10 * stall, "the first PING behind 1,000 connections and garbage waited \(backlog) ms")

        let slow = try RawConnection(daemon.socket)
        let trickle = Thread {
            for byte in Array("PING".utf8) { slow.send([byte]); Thread.sleep(forTimeInterval: 0.25) }
            slow.send([0x0A])
        }
        trickle.start()
        let latencies = try pingLatencies(daemon.socket, count: 300)
        #expect(
            latencies.max()! < stall,
            "a PING waited \(latencies.max()!) ms with 1,000 connections open and one trickling")
        #expect(slow.read(lines: 2) == ["OK 1", "pong"], "the trickling client is answered once its line is whole")
        #expect(!garbage.read(lines: 1).isEmpty, "garbage gets an answer, not a crash")

        // A 10 MB line with no newline: one ERR, then the connection is usable again.
        let long = try RawConnection(daemon.socket)
        long.send([UInt8](repeating: 0x41, count: 10 << 20))
        long.send(Array("\nPING\n".utf8))
        let answers = long.read(lines: 3)
        #expect(
            answers.first?.hasPrefix("ERR too-long") == true && Array(answers.dropFirst()) == ["OK 1", "pong"],
            "\(answers.prefix(3))")

        // 10,000 pipelined requests, answered in order.
        let pipelined = try RawConnection(daemon.socket)
        pipelined.send(Array((0..<10_000).map { $0 % 2 == 0 ? "PING\n" : "HELP\n" }.joined().utf8))
        let help = Verb.allCases.count
        let lines = pipelined.read(lines: 5_000 * 2 + 5_000 * (help + 1))
        #expect(lines.count == 5_000 * 2 + 5_000 * (help + 1))
        #expect(lines.prefix(2) == ["OK 1", "pong"] && lines[2] == "OK \(help)")

        // Clients that vanish mid-answer: ask for a large answer and close at once, many times.
        for _ in 0..<200 {
            let vanishing = try RawConnection(daemon.socket)
            vanishing.send(Array((String(repeating: "HELP\n", count: 50)).utf8))
        }
        // The first PING waits behind the 10,000 requests they left (~0.3 s in a debug build); the
        // rest must not: a dead connection costs nothing once its requests are answered.
        let after = try pingLatencies(daemon.socket, count: 200)
        #expect(after[0] < 10 * stall, "the first PING after the abuse waited \(after[0]) ms")
        #expect(after.dropFirst().max()! < stall, "a PING waited \(after.dropFirst().max()!) ms after the abuse")
        #expect(residentMB(pid) < 400, "resident memory \(residentMB(pid)) MB")
        print(
            String(
                format:
                    "protocol abuse: first PING %.1f ms; PING p99 %.2f ms (max %.2f) with 1,000 idle connections and a trickle; after: first %.1f ms, then p99 %.2f ms; kindredd resident %d MB",
                backlog, p99(latencies), latencies.max()!, after[0], p99(Array(after.dropFirst())), residentMB(pid)))
        withExtendedLifetime(idle) {}
        #expect(try daemon.stop().status == 0)
    }

    /// One read can carry thousands of pipelined requests. kindredd starts at most
    /// `max_in_flight` of them, and no more while the client leaves its answers unread; the rest
    /// wait as bytes. Before, every request in a read was started at once (a 56 KB write of
    /// `SIMILAR 1 k=1000 explain=1` lines grew a release kindredd by 94 MB), and the limit only
    /// stopped the next read. Nothing is lost: once the client reads, every request is answered,
    /// in order.
    @Test func aBurstOfPipelinedRequestsIsStartedAFewAtATime() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [])
        try daemon.start()
        let pid = daemon.process!.processIdentifier
        let before = residentMB(pid)
        let hog = try RawConnection(daemon.socket)
        let requests = 13_000  // 65 KB of requests, ~2.5 KB of JSON answer each: 33 MB if all started
        hog.send(Array(("FORMAT json\n" + String(repeating: "HELP\n", count: requests)).utf8))
        Thread.sleep(forTimeInterval: 1)
        let grown = residentMB(pid) - before
        #expect(grown < 12, "kindredd grew \(grown) MB for a client that does not read")
        #expect(try daemon.ask("PING") == ["OK 1", "pong"])
        let answers = hog.read(lines: requests + 1)
        #expect(answers.count == requests + 1, "every request answered once the client reads")
        #expect(
            answers.last?.hasPrefix("{\"columns\":[\"verb\",\"usage\",\"admin\"],\"ok\":true") == true,
            "the last answer is HELP's, in JSON: \(answers.last?.prefix(80) ?? "")")
        print("a burst of \(requests) pipelined HELPs, unread for 1 s: kindredd grew \(grown) MB")
        #expect(try daemon.stop().status == 0)
    }

    /// A client that stops taking its answers is disconnected after `send_timeout_seconds`
    /// (`SendWatch`): before, backpressure bounded what it held but not for how long, so it kept
    /// its answers' memory and any heavy places until it closed. A client that reads slowly but
    /// steadily, beside it, gets every answer.
    @Test func aClientThatStopsReadingIsDisconnected() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let daemon = try startDaemon(config: "[protocol]\nsend_timeout_seconds = 2\n")
        let requests = 2_000  // ~2.5 KB of JSON answer each: 5 MB, far above the 1 MiB water mark
        let burst = Array(("FORMAT json\n" + String(repeating: "HELP\n", count: requests)).utf8)
        let stalled = try RawConnection(daemon.socket)
        let slow = try RawConnection(daemon.socket)
        stalled.send(burst)
        slow.send(burst)

        // The slow client reads 16 KB every 20 ms (~0.8 MB/s): some of its answers wait above the
        // water mark for seconds at a time, but it takes bytes in every 2 s.
        let started = Date()
        let read = slow.count(lines: requests + 1, chunk: 16384, pause: 0.02)
        let slowSeconds = Date().timeIntervalSince(started)
        #expect(read.lines == requests + 1, "the slow reader got \(read.lines) of \(requests + 1) answers")
        Thread.sleep(forTimeInterval: max(0, 6 - slowSeconds))  // the stalled client's look is due by ~4 s

        // By now (more than 2 s with nothing read) the stalled client has been cut off: it reads
        // what the kernel held for it, well short of every answer, then the end of the stream
        // (a connection still open would time out instead).
        let (stalledLines, end) = stalled.count(lines: requests + 1, timeout: 10)
        #expect(end == .closed, "the stalled client's connection is still open (\(end))")
        #expect(stalledLines < requests / 2, "the stalled client got \(stalledLines) answers")
        #expect(try daemon.ask("PING") == ["OK 1", "pong"])
        print(
            "send timeout 2 s: the slow reader took \(slowSeconds) s for every answer; the stalled one got \(stalledLines)"
        )
        #expect(try daemon.stop().status == 0)
    }

    /// A client that takes its answers, but slower than `send_min_bytes_per_second`, is
    /// disconnected too: before, one byte a `send_timeout_seconds` kept a connection, and what it
    /// held, for ever. The trickle reader here takes bytes in every period (the log says how
    /// many), so the timeout alone would have kept it; a fast reader beside it gets every answer.
    @Test func aClientReadingBelowTheMinimumRateIsDisconnected() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let daemon = try startDaemon(
            config: "[protocol]\nsend_timeout_seconds = 1\nsend_min_bytes_per_second = 1048576\n")
        let requests = 2_000  // ~2.5 KB of JSON answer each: 5 MB, far above the 1 MiB water mark
        let burst = Array(("FORMAT json\n" + String(repeating: "HELP\n", count: requests)).utf8)
        // The trickle reader reads on a thread of its own, from its first answer, while the fast
        // one reads here: 64 KB every 0.1 s, at most 640 KB/s, under the 1 MiB/s asked, and
        // enough for the socket to take more of what waits in every 1 s period.
        let socket = daemon.socket
        let outcome = Mutex<(lines: Int, end: RawConnection.End)?>(nil)
        let trickleDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { trickleDone.signal() }
            guard let trickle = try? RawConnection(socket) else { return }
            trickle.send(burst)
            let counted = trickle.count(lines: requests + 1, pause: 0.1, timeout: 20)
            outcome.withLock { $0 = counted }
        }
        let fast = try RawConnection(daemon.socket)
        fast.send(burst)
        #expect(fast.count(lines: requests + 1).lines == requests + 1)
        trickleDone.wait()
        let (trickleLines, end) = try #require(outcome.withLock { $0 })
        #expect(end == .closed, "the trickle reader's connection is still open (\(end))")
        #expect(trickleLines < requests, "the trickle reader got \(trickleLines) answers")
        let notice = daemon.logText.split(separator: "\n").first { $0.contains("does not take its answers") }
        let taken = notice.flatMap { line in
            line.split(separator: " ").first { $0.hasPrefix("bytes_taken=") }.flatMap { Int($0.dropFirst(12)) }
        }
        #expect((taken ?? 0) > 0, "the trickle reader took bytes in its last period: \(notice ?? "no notice")")
        #expect(try daemon.ask("PING") == ["OK 1", "pong"])
        print("minimum rate 1 MiB/s: the trickle reader got \(trickleLines) answers; \(notice ?? "")")
        #expect(try daemon.stop().status == 0)
    }

    /// Random pipelines (`Benchmarks/daemon/pipeline_stress.py`) against a kindredd with a small
    /// in-flight limit and image budget, so pauses, refused images and half-closed or vanishing
    /// clients all happen: every answer the clients read is there, of the kind expected, in order.
    @Test func randomPipelinesAreAnsweredInOrder() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let daemon = try startDaemon(config: "[protocol]\nmax_in_flight = 4\nimage_bytes_in_flight = 4194304\n")
        let script = packageRoot.appendingPathComponent("Benchmarks/daemon/pipeline_stress.py").path
        let output = shellOutput("python3 \(script) \(daemon.socket) 4 8 19; echo exit=$?")
        print("random pipelines: \(output)")
        #expect(output.contains("\"failures\": 0") && output.contains("\"alive\": true"), "\(output)")
        #expect(output.hasSuffix("exit=0\n"), "\(output)")
        #expect(try daemon.stop().status == 0)
    }

    /// SIMILAR-IMAGE bytes held at once are bounded over every connection, not only per
    /// connection: before, clients that each sent all but the last byte of a 64 MiB image grew
    /// kindredd by 64 MiB apiece (60 of them: 4 GB). A request past the budget is refused before
    /// its bytes are buffered, its bytes are dropped as they come, and the connection goes on.
    @Test func imageBytesInFlightAreBoundedOverEveryConnection() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let budget = 16 << 20
        let daemon = try startDaemon(config: "[protocol]\nimage_bytes_in_flight = \(budget)\n")
        let pid = daemon.process!.processIdentifier
        let before = residentMB(pid)
        let half = budget / 2
        func request(_ bytes: Int) -> [UInt8] { Array("SIMILAR-IMAGE \(bytes)\n".utf8) }

        // Two clients hold the whole budget, each one byte short of its image.
        let first = try RawConnection(daemon.socket)
        var second: RawConnection? = try RawConnection(daemon.socket)
        for holder in [first, second!] { holder.send(request(half) + [UInt8](repeating: 0, count: half - 1)) }

        // Twenty more send whole images, with request lines among their bytes: each is refused as
        // busy at once, its bytes dropped unread, and its next line answered.
        let payload = Array(String(repeating: "PING\n", count: half / 5).utf8)
        for _ in 0..<20 {
            let refused = try RawConnection(daemon.socket)
            refused.send(request(payload.count) + payload + Array("PING\n".utf8))
            let answers = refused.read(lines: 3)
            #expect(
                answers.first?.hasPrefix("ERR unavailable busy: images sent with SIMILAR-IMAGE hold") == true
                    && Array(answers.dropFirst()) == ["OK 1", "pong"], "\(answers.prefix(3))")
        }
        // No image that large could ever fit: a bad request, not a busy one.
        let tooLarge = try RawConnection(daemon.socket)
        tooLarge.send(request(budget + 1) + [UInt8](repeating: 0x0A, count: budget + 1) + Array("PING\n".utf8))
        let refusal = tooLarge.read(lines: 3)
        #expect(refusal.first?.hasPrefix("ERR bad-request an image of \(budget + 1) bytes exceeds") == true)
        #expect(Array(refusal.dropFirst()) == ["OK 1", "pong"], "\(refusal)")
        let grown = residentMB(pid) - before
        #expect(
            grown < 64,
            "kindredd grew \(grown) MB holding \(budget >> 20) MB of images and refusing \(20 * half >> 20) MB")

        // The room comes back when an image has been answered (these bytes are no image) ...
        first.send([0])
        #expect(first.read(lines: 1).first?.hasPrefix("ERR bad-request") == true)
        let next = try RawConnection(daemon.socket)
        next.send(request(half) + [UInt8](repeating: 0, count: half))
        #expect(next.read(lines: 1).first?.hasPrefix("ERR bad-request") == true, "a claim fits once one is answered")
        // ... and when a client leaves halfway through its image.
        second = nil
        try daemon.waitFor("the room of a closed connection to come back", seconds: 10) {
            let after = try RawConnection(daemon.socket)
            after.send(request(budget) + [UInt8](repeating: 0, count: budget))
            return after.read(lines: 1).first?.hasPrefix("ERR bad-request") == true
        }
        withExtendedLifetime(second) {}
        #expect(try daemon.stop().status == 0)
    }
}
