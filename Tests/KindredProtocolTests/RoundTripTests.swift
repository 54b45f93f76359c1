import KindredCore
import KindredProtocol
import Testing

/// The encoder beside the parser: every request a client can make survives the trip through its
/// line, and every answer through the text encoding.
@Suite struct RoundTripTests {
    /// Words that make quoting work: spaces, quotes, backslashes, tabs, newlines, `=`, digits
    /// only, non-ASCII, and option-looking text.
    static let awkward = [
        "plain", "a b", "say \"hi\"", #"back\slash"#, "tab\there", "new\nline", "k=5", "é ☃ 漢",
        "123", "space=cnn", "=", "\"", "\\", "x=\"y\"", "trailing\\", "a\tb=c d",
        // "\r\n" is one Character to Swift, as is a quote or a backslash with a combining mark.
        "cr\r\nlf", "lone\rcr", "\"\u{301}", "\\\u{301}", "e\u{301}", "\u{301}leading mark",
    ]

    func randomPath(_ random: inout SeededRandom) -> String {
        "/"
            + (0..<(1 + random.below(3))).map { _ in
                Self.awkward[random.below(Self.awkward.count)].replacingOccurrences(of: "/", with: "")
            }
            .joined(separator: "/")
    }

    func randomRequest(_ random: inout SeededRandom) -> Request {
        let target: Target =
            random.below(2) == 0
            ? .id(ItemID(validating: String(1 + random.below(Int(Int32.max))))!) : .path(randomPath(&random))
        let limit = 1 + random.below(1000)
        let query = SimilarQuery(
            k: limit, ranking: Ranking.allCases[random.below(Ranking.allCases.count)], explain: random.below(2) == 0)
        switch Verb.allCases[random.below(Verb.allCases.count)] {
        case .ping: return .ping
        case .help: return .help
        case .quit: return .quit
        case .status: return .status
        case .similar:
            return .similar(target, query, within: random.below(2) == 0 ? nil : randomPath(&random))
        case .similarImage: return .similarImage(byteCount: 1 + random.below(64 << 20), query)
        case .info: return .info(target)
        case .explain:
            return .explain(
                target,
                items: (0...random.below(Request.maxExplained)).map { _ in
                    ItemID(validating: String(1 + random.below(Int(Int32.max))))!
                })
        case .duplicates:
            return .duplicates(
                tier: DuplicateTier.allCases[random.below(3)],
                maxDistance: random.below(Request.maxDuplicateDistance + 1))
        case .errors: return .errors(limit: limit)
        case .rescan: return .rescan(directory: random.below(2) == 0 ? nil : randomPath(&random))
        case .watch: return .watch(directory: randomPath(&random))
        case .unwatch: return .unwatch(directory: randomPath(&random))
        case .format: return .format(random.below(2) == 0 ? .text : .json)
        case .refit: return .refit(wait: random.below(2) == 0)
        case .runs: return .runs(limit: limit)
        case .clusters: return .clusters
        case .cluster: return .cluster(id: random.below(Int(Int32.max)), limit: limit)
        case .nameCluster:
            // Names with control characters are refused at the border; they stand for removal here.
            let word = Self.awkward[random.below(Self.awkward.count)]
            return .nameCluster(id: random.below(Int(Int32.max)), name: (try? ClusterName(validating: word)) ?? nil)
        case .map: return .map(dimensions: 2 + random.below(2))
        case .backup: return .backup(directory: randomPath(&random))
        case .run: return .run(id: random.below(2) == 0 ? nil : Int64(1 + random.below(Int(Int32.max))))
        case .runClusters: return .runClusters(run: Int64(1 + random.below(1000)))
        case .runMembers:
            return .runMembers(
                run: Int64(1 + random.below(1000)), after: UInt64(random.below(Int(Int32.max))), limit: limit)
        case .thumbs: return .thumbs(after: UInt64(random.below(Int(Int32.max))), limit: limit)
        }
    }

    @Test func everyRequestSurvivesItsLine() throws {
        var random = SeededRandom(seed: 2026)
        let parser = RequestParser()
        var seen = Set<String>()
        for _ in 0..<20_000 {
            let request = randomRequest(&random)
            let line = RequestEncoder.line(request)
            #expect(!line.contains("\n"), "\(line)")
            #expect(try parser.parse(line) == request, "\(line)")
            seen.insert(request.verb.rawValue)
        }
        #expect(seen.count == Verb.allCases.count, "every verb drawn")
        // The extremes of every range, too.
        for request: Request in [
            .similar(.id(ItemID(validating: String(Int64.max))!), SimilarQuery(k: 1000, ranking: .style), within: "/"),
            .runMembers(run: Int64.max, after: UInt64(Int64.max), limit: 100_000),
            .duplicates(tier: .similar, maxDistance: 16),
            .similarImage(byteCount: 64 << 20, SimilarQuery(k: 1)), .info(.path("/")),
        ] {
            #expect(try parser.parse(RequestEncoder.line(request)) == request)
        }
    }

    @Test func answersSurviveTheTextEncoding() {
        var random = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            let rows = (0..<random.below(4)).map { _ in
                (0..<(1 + random.below(4))).map { _ in Self.awkward[random.below(Self.awkward.count)] + "\r" }
            }
            let text = ResponseEncoder.encode(.success(Response(columns: [], rows: rows)), as: .text)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            #expect(ResponseEncoder.decode(lines) == .success(rows))
            let columns = (0..<(rows.first?.count ?? 1)).map { "c\($0)" }
            let json = ResponseEncoder.encode(.success(Response(columns: columns, rows: rows)), as: .json)
            #expect(ResponseEncoder.decodeJSON(json) == .success(Response(columns: columns, rows: rows)))
        }
        for code in [ProtocolError.Code.notFound, .forbidden, .unavailable, .badRequest, .internalError] {
            let refusal = ProtocolError(code, "no such\tthing\nat /a b")
            let lines = ResponseEncoder.encode(.failure(refusal), as: .text).split(separator: "\n").map(String.init)
            #expect(ResponseEncoder.decode(lines) == .failure(refusal))
            #expect(
                ResponseEncoder.decodeJSON(ResponseEncoder.encode(.failure(refusal), as: .json)) == .failure(refusal))
        }
    }
}
