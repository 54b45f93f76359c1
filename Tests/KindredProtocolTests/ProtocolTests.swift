import Foundation
import KindredCore
import KindredProtocol
import Testing

@Suite struct RequestParserTests {
    let parser = RequestParser()

    @Test func everyVerbParses() throws {
        let cases: [(String, Request)] = [
            ("PING", .ping), ("ping", .ping), ("HELP", .help), ("QUIT", .quit), ("STATUS\r", .status),
            ("SIMILAR 42", .similar(.id(ItemID(42)), SimilarQuery(), within: nil)),
            (
                "SIMILAR 42 space=cnn explain=1",
                .similar(.id(ItemID(42)), SimilarQuery(ranking: .cnn, explain: true), within: nil)
            ),
            (
                "SIMILAR /art/a.jpg k=5 space=style within=prefix:/art/blue",
                .similar(.path("/art/a.jpg"), SimilarQuery(k: 5, ranking: .style), within: "/art/blue")
            ),
            (
                #"SIMILAR "/art/Blue Period/old guitarist.jpg" k=3"#,
                .similar(.path("/art/Blue Period/old guitarist.jpg"), SimilarQuery(k: 3), within: nil)
            ),
            (
                "similar\t" + #""/a \"quoted\" \\ name.png"   within="prefix:/a b""#,
                .similar(.path(#"/a "quoted" \ name.png"#), SimilarQuery(), within: "/a b")
            ),
            ("SIMILAR-IMAGE 81920 k=20", .similarImage(byteCount: 81920, SimilarQuery(k: 20))),
            ("INFO /x/y.png", .info(.path("/x/y.png"))), ("INFO 7", .info(.id(ItemID(7)))),
            ("DUPLICATES", .duplicates(tier: .near, maxDistance: 6)),
            ("DUPLICATES max_distance=0", .duplicates(tier: .near, maxDistance: 0)),
            ("DUPLICATES tier=exact", .duplicates(tier: .exact, maxDistance: 6)),
            ("DUPLICATES tier=similar max_distance=3", .duplicates(tier: .similar, maxDistance: 3)),
            ("ERRORS limit=5", .errors(limit: 5)), ("RESCAN", .rescan(directory: nil)),
            ("RESCAN /art", .rescan(directory: "/art")),
            ("WATCH /art", .watch(directory: "/art")), (#"UNWATCH "/my art""#, .unwatch(directory: "/my art")),
            ("FORMAT json", .format(.json)), ("FORMAT TEXT", .format(.text)),
            ("REFIT", .refit(wait: false)), ("REFIT wait", .refit(wait: true)), ("RUNS", .runs(limit: 20)),
            ("RUNS limit=3", .runs(limit: 3)),
            ("CLUSTERS", .clusters), ("CLUSTER 12", .cluster(id: 12, limit: 50)),
            ("CLUSTER 0 limit=5", .cluster(id: 0, limit: 5)),
            ("MAP", .map(dimensions: 2)), ("MAP dims=3", .map(dimensions: 3)),
        ]
        for (line, expected) in cases { #expect(try parser.parse(line) == expected, "\(line)") }
    }

    @Test func errorsSayExactlyWhatIsWrong() {
        let cases: [(String, ProtocolError.Code, String)] = [
            ("", .badRequest, "empty request"),
            ("FROB x", .unknownVerb, "unknown verb 'FROB'"),
            ("SIMILAR", .badRequest, "SIMILAR: missing a path or id"),
            ("SIMILAR relative/a.jpg", .badRequest, "'relative/a.jpg' is neither an item id nor an absolute path"),
            ("SIMILAR 1 k=0", .badRequest, "k=0 must be a whole number from 1 to 1000"),
            ("SIMILAR 1 k=ten", .badRequest, "k=ten must be a whole number"),
            ("SIMILAR 1 k=5 k=6", .badRequest, "k given twice"),
            ("SIMILAR 1 colour=red", .badRequest, "unknown option 'colour'"),
            ("SIMILAR 1 2", .badRequest, "unexpected argument '2'"),
            ("SIMILAR 1 space=clip", .badRequest, "space=clip is not one of fused, cnn, style"),
            ("SIMILAR 1 explain=2", .badRequest, "explain"),
            ("SIMILAR 1 within=/art", .badRequest, "must be prefix:/absolute/dir"),
            (#"SIMILAR "/a.jpg"#, .badRequest, "ends inside a quoted word"),
            (#"SIMILAR "/a\q.jpg""#, .badRequest, #"unknown escape '\q'"#),
            ("SIMILAR-IMAGE 0", .badRequest, "byte count 0 must be from 1"),
            ("SIMILAR-IMAGE 99999999999", .badRequest, "must be from 1 to 67108864"),
            ("WATCH art", .badRequest, "'art' is not an absolute path"),
            ("FORMAT xml", .badRequest, "'xml' is not text or json"),
            ("REFIT now", .badRequest, "'now' is not 'wait'"),
            ("CLUSTER -1", .badRequest, "'-1' is not a cluster id"),
            ("MAP dims=4", .badRequest, "dims=4 must be a whole number from 2 to 3"),
            ("PING\0", .badRequest, "control character"),
        ]
        for (line, code, fragment) in cases {
            #expect { try parser.parse(line) } throws: { error in
                let e = error as! ProtocolError
                return e.code == code && e.message.contains(fragment)
            }
        }
        // Usage is part of every argument error, so a shell user sees how to fix it.
        #expect { try parser.parse("SIMILAR") } throws: { "\($0)".contains("usage: SIMILAR <path|id> [k=10]") }
    }

    /// Every number a client can send, at and past each edge: in range it parses to exactly that
    /// value, out of range it is refused by the parser, so nothing downstream sees it.
    @Test func hostileNumbersAreRefusedAtTheBorder() throws {
        let refused: [(String, String)] = [
            ("INFO 9223372036854775808", "item id 9223372036854775808 is out of range"),
            ("INFO 18446744073709551616", "is out of range"), ("INFO 0", "item id 0 is out of range"),
            ("SIMILAR 99999999999999999999999", "is out of range"),
            ("INFO -1", "neither an item id nor an absolute path"),
            ("INFO +5", "neither an item id"), ("INFO ４２", "neither an item id"), ("INFO 0x10", "neither an item id"),
            ("SIMILAR 1 k=1001", "from 1 to 1000"), ("SIMILAR 1 k=-1", "from 1 to 1000"),
            ("SIMILAR 1 k=1e3", "whole number"),
            ("SIMILAR 1 k=9223372036854775808", "whole number"), ("SIMILAR-IMAGE 67108865", "from 1 to 67108864"),
            ("SIMILAR-IMAGE -1", "from 1 to 67108864"), ("SIMILAR-IMAGE 18446744073709551615", "from 1 to 67108864"),
            ("DUPLICATES max_distance=17", "from 0 to 16"), ("DUPLICATES max_distance=-1", "from 0 to 16"),
            ("ERRORS limit=0", "from 1 to 100000"), ("ERRORS limit=100001", "from 1 to 100000"),
            ("RUNS limit=1001", "from 1 to 1000"),
            ("CLUSTER 2147483648", "not a cluster id"), ("CLUSTER 1 limit=1000001", "from 1 to 1000000"),
            ("MAP dims=1", "from 2 to 3"),
            ("EXPLAIN 1", "missing the ids to explain"), ("EXPLAIN 1 2,,3", "'' is not an item id"),
            ("EXPLAIN 1 0", "'0' is not an item id"), ("EXPLAIN 1 2,9223372036854775808", "is not an item id"),
            ("EXPLAIN 1 " + (1...101).map(String.init).joined(separator: ","), "101 ids; at most 100"),
        ]
        for (line, fragment) in refused {
            #expect { try parser.parse(line) } throws: { error in
                let e = error as! ProtocolError
                return e.code == .badRequest && e.message.contains(fragment)
            }
        }
        #expect(try parser.parse("INFO 9223372036854775807") == .info(.id(ItemID(UInt64(Int64.max)))))
        #expect(try parser.parse("INFO 1") == .info(.id(ItemID(1))))
        #expect(
            try parser.parse("EXPLAIN /a/b.jpg 3,1,3")
                == .explain(.path("/a/b.jpg"), items: [ItemID(3), ItemID(1), ItemID(3)]))
        #expect(try parser.parse("CLUSTER 2147483647 limit=1000000") == .cluster(id: 2_147_483_647, limit: 1_000_000))
        #expect(
            try parser.parse("SIMILAR-IMAGE 67108864 k=1000")
                == .similarImage(byteCount: 67_108_864, SimilarQuery(k: 1000)))
    }

    @Test func lineLengthIsLimited() {
        let small = RequestParser(maxLineLength: 16)
        #expect(throws: ProtocolError(.tooLong, "request line of 17 bytes exceeds the 16-byte limit")) {
            try small.parse("PING " + String(repeating: "x", count: 12))
        }
        #expect(throws: Never.self) { try small.parse("PING") }
    }

    /// Seeded garbage, half of it starting with a real verb: every line ends as a request or a
    /// typed refusal with a message, never a crash, and the verb-led half reaches the arguments.
    @Test func garbageNeverCrashes() {
        var generator = SeededRandom(seed: 2026)
        var parsed = 0, refusedAtArguments = 0, refused = 0
        for round in 0..<2000 {
            var bytes = (0..<generator.below(81)).map { _ in UInt8(generator.below(256)) }
            if round % 2 == 0 {
                bytes = Array((Verb.allCases[generator.below(Verb.allCases.count)].rawValue + " ").utf8) + bytes
            }
            do {
                _ = try parser.parse(String(decoding: bytes, as: UTF8.self))
                parsed += 1
            } catch {
                #expect(!error.message.isEmpty)
                if error.code == .badRequest && error.message.contains("usage:") { refusedAtArguments += 1 }
                refused += 1
            }
        }
        #expect(
            parsed + refused == 2000 && refusedAtArguments > 100,
            "\(parsed) parsed, \(refusedAtArguments) refused at their arguments")
    }
}

@Suite struct ResponseEncoderTests {
    @Test func textAnswersAreTabSeparatedLines() {
        let response = Response(
            columns: ["rank", "score", "id", "path"],
            rows: [["1", "0.98", "7", "/a/b c.jpg"], ["2", "0.91", "9", "/tab\there"]])
        #expect(
            ResponseEncoder.encode(.success(response), as: .text)
                == "OK 2\n1\t0.98\t7\t/a/b c.jpg\n2\t0.91\t9\t/tab\\there\n")
        #expect(
            ResponseEncoder.encode(.failure(ProtocolError(.notFound, "no item 12")), as: .text)
                == "ERR not-found no item 12\n")
        #expect(ResponseEncoder.unescape("/tab\\there\\\\x") == "/tab\there\\x")
    }

    /// A file name may hold "\r\n", which Swift reads as one Character equal to neither "\r" nor
    /// "\n": it must still be escaped, or its row breaks in two and every later answer on the
    /// connection is misread.
    @Test func carriageReturnsAndLineFeedsTogetherStayInTheirRow() throws {
        let path = "/art/a\r\nOK 1\r\nb.jpg"
        #expect(ResponseEncoder.escape(path) == #"/art/a\r\nOK 1\r\nb.jpg"#)
        let text = ResponseEncoder.encode(.success(Response(columns: ["path"], rows: [[path]])), as: .text)
        #expect(text.utf8.filter { $0 == 0x0A }.count == 2 && !text.utf8.contains(0x0D), "OK 1 and one row")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && ResponseEncoder.decode(lines) == .success([[path]]))
        #expect(RequestEncoder.word(path) == #""/art/a\r\nOK 1\r\nb.jpg""#)
        #expect(try RequestParser().parse("INFO " + RequestEncoder.word(path)) == .info(.path(path)))
    }

    @Test func jsonAnswersAreOneObjectPerLine() throws {
        let line = ResponseEncoder.encode(
            .success(Response(columns: ["key", "value"], rows: [["indexed", "12"]])), as: .json)
        #expect(line == #"{"columns":["key","value"],"ok":true,"rows":[["indexed","12"]]}"# + "\n")
        let error = ResponseEncoder.encode(
            .failure(ProtocolError(.forbidden, "/etc/passwd is outside the watched roots")), as: .json)
        let object = try JSONSerialization.jsonObject(with: Data(error.utf8)) as! [String: Any]
        #expect(object["ok"] as? Bool == false && object["error"] as? String == "forbidden")
    }
}

@Suite struct LineFramerTests {
    @Test func splitsLinesAcrossChunksAndStripsCarriageReturns() {
        var framer = LineFramer()
        #expect(framer.feed(Array("PI".utf8)).isEmpty)
        #expect(framer.feed(Array("NG\r\nSTATUS\nSIM".utf8)) == [.line("PING"), .line("STATUS")])
        #expect(framer.feed(Array("ILAR 1\n".utf8)) == [.line("SIMILAR 1")])
    }

    @Test func anOverlongLineIsReportedOnceAndTheConnectionRecovers() {
        var framer = LineFramer(maxLineLength: 8)
        var events = framer.feed(Array(repeating: UInt8(ascii: "x"), count: 10_000))
        #expect(events.isEmpty && framer.buffered == 0, "memory stays bounded while the line goes on")
        events = framer.feed(Array("xx\nPING\n".utf8))
        #expect(events == [.tooLong(bytes: 10_002), .line("PING")])
    }

    /// A payload arrives whole however it is cut, and one the handler refuses is dropped unseen,
    /// newlines and all, so the lines after it are still read as lines.
    @Test func payloadsAreKeptOrSkippedAndFramingResumesAfterThem() {
        var framer = LineFramer()
        var events: [LineFramer.Event] = []
        let handle = { (event: LineFramer.Event) -> LineFramer.Next in
            events.append(event)
            guard case .line(let line) = event else { return .lines }
            let words = line.split(separator: " ")
            switch words.first {
            case "KEEP": return .payload(Int(words[1])!)
            case "SKIP": return .skip(Int(words[1])!)
            default: return .lines
            }
        }
        let stream = Array("KEEP 5\nab\ncdSKIP 6\nPING\nxKEEP 0\nSTATUS\n".utf8)
        for byte in stream { framer.feed([byte], handle) }  // one byte a read: the worst cut
        #expect(
            events == [
                .line("KEEP 5"), .payload(Array("ab\ncd".utf8)), .line("SKIP 6"), .line("KEEP 0"), .line("STATUS"),
            ])
        #expect(framer.buffered == 0)
        events = []
        framer.feed(stream, handle)  // all at once
        #expect(events.count == 5 && events[1] == .payload(Array("ab\ncd".utf8)) && events[4] == .line("STATUS"))
    }
}

@Suite struct SocketPathTests {
    @Test func aRelativeSocketPathIsTakenFromTheCurrentDirectory() {
        #expect(
            SocketPath.resolve(explicit: "k.sock", environment: [:], currentDirectory: "/srv/art") == "/srv/art/k.sock")
        #expect(
            SocketPath.resolve(explicit: "run/k.sock", environment: [:], currentDirectory: "/srv") == "/srv/run/k.sock")
        #expect(
            SocketPath.resolve(explicit: "/run/k.sock", environment: [:], currentDirectory: "/srv") == "/run/k.sock")
        #expect(
            SocketPath.resolve(explicit: "", environment: ["XDG_RUNTIME_DIR": "/run/user/7"], currentDirectory: "/srv")
                == "/run/user/7/kindred/kindred.sock")
    }
}
