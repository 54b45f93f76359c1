import KindredCore

/// Turns one request line into a `Request`, or a `ProtocolError` that says exactly what is wrong.
public struct RequestParser: Sendable {
    /// The longest accepted line, in bytes, newline excluded.
    public var maxLineLength: Int

    public init(maxLineLength: Int = 64 * 1024) {
        self.maxLineLength = maxLineLength
    }

    /// A word of the line: plain, or `key=value` when an unquoted `=` follows a lower-case key.
    struct Word: Equatable {
        var text: String
        var key: String?
    }

    public func parse(_ line: String) throws(ProtocolError) -> Request {
        guard line.utf8.count <= maxLineLength else {
            throw ProtocolError(
                .tooLong, "request line of \(line.utf8.count) bytes exceeds the \(maxLineLength)-byte limit")
        }
        var words = try Self.split(line.hasSuffix("\r") ? String(line.dropLast()) : line)
        guard !words.isEmpty else { throw ProtocolError(.badRequest, "empty request; HELP lists the verbs") }
        let first = words.removeFirst()
        guard first.key == nil, let verb = Verb(rawValue: first.text.uppercased()) else {
            throw ProtocolError(.unknownVerb, "unknown verb '\(first.text)'; HELP lists the verbs")
        }
        var arguments = Arguments(verb: verb, positional: words.filter { $0.key == nil }.map(\.text))
        for word in words where word.key != nil {
            guard arguments.options.updateValue(word.text, forKey: word.key!) == nil else {
                throw ProtocolError(.badRequest, "\(verb.rawValue): \(word.key!) given twice")
            }
        }
        return try arguments.request()
    }

    /// Splits on spaces and tabs, honouring double quotes and their escapes. Reads Unicode
    /// scalars, not Characters: a quote or backslash followed by a combining mark is one Character
    /// to Swift, and would not be seen as the quote or the escape it is.
    static func split(_ line: String) throws(ProtocolError) -> [Word] {
        var words: [Word] = []
        var current = String.UnicodeScalarView(), key: String?
        var inWord = false, quoted = false, sawQuote = false
        var scalars = line.unicodeScalars.makeIterator()
        func finish() {
            if inWord { words.append(Word(text: String(current), key: key)) }
            current = String.UnicodeScalarView(); key = nil; inWord = false; sawQuote = false
        }
        while let c = scalars.next() {
            if quoted {
                switch c {
                case "\"": quoted = false
                case "\\":
                    switch scalars.next() {
                    case "\"": current.append("\"")
                    case "\\": current.append("\\")
                    case "t": current.append("\t")
                    case "n": current.append("\n")
                    case "r": current.append("\r")
                    case let other?: throw ProtocolError(.badRequest, "unknown escape '\\\(other)' in a quoted word")
                    case nil: throw ProtocolError(.badRequest, "the line ends inside a quoted word")
                    }
                default: current.append(c)
                }
                continue
            }
            switch c {
            case " ", "\t": finish()
            case "\"":
                inWord = true; quoted = true; sawQuote = true
            case "="
            where key == nil && !sawQuote && !current.isEmpty
                && current.allSatisfy({ $0.properties.isLowercase || $0 == "_" }):
                key = String(current); current = String.UnicodeScalarView(); inWord = true
            case "\n", "\r", "\0":
                throw ProtocolError(.badRequest, "control character in the request line")
            default:
                inWord = true; current.append(c)
            }
        }
        guard !quoted else { throw ProtocolError(.badRequest, "the line ends inside a quoted word") }
        finish()
        return words
    }
}

/// A verb's arguments, consumed as they are interpreted so leftovers can be reported.
private struct Arguments {
    let verb: Verb
    var positional: [String]
    var options: [String: String] = [:]

    init(verb: Verb, positional: [String]) {
        self.verb = verb
        self.positional = positional
    }

    func fail(_ message: String) -> ProtocolError {
        ProtocolError(.badRequest, "\(verb.rawValue): \(message); usage: \(verb.usage)")
    }

    mutating func required(_ name: String) throws(ProtocolError) -> String {
        guard !positional.isEmpty else { throw fail("missing \(name)") }
        return positional.removeFirst()
    }

    mutating func optional() -> String? { positional.isEmpty ? nil : positional.removeFirst() }

    mutating func integer(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ProtocolError) -> Int {
        guard let text = options.removeValue(forKey: key) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw fail("\(key)=\(text) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func runID(_ text: String) throws(ProtocolError) -> Int64 {
        guard let id = Int64(text), id >= 1 else {
            throw fail("'\(text)' is not a run id (1 to \(Int64.max), as RUNS lists them)")
        }
        return id
    }

    mutating func similarQuery() throws(ProtocolError) -> SimilarQuery {
        let k = try integer("k", default: 10, in: 1...1000)
        var ranking = Ranking.fused
        if let text = options.removeValue(forKey: "space") {
            guard let chosen = Ranking(rawValue: text) else {
                throw fail("space=\(text) is not one of \(Ranking.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            ranking = chosen
        }
        return SimilarQuery(k: k, ranking: ranking, explain: try integer("explain", default: 0, in: 0...1) == 1)
    }

    mutating func target() throws(ProtocolError) -> Target {
        let text = try required("a path or id")
        if let id = ItemID(validating: text) { return .id(id) }
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            throw fail("item id \(text) is out of range: ids are 1 to \(Int64.max)")
        }
        // The byte, not the Character: "/" and a combining mark after it are one Character.
        guard text.utf8.first == UInt8(ascii: "/") else {
            throw fail("'\(text)' is neither an item id nor an absolute path")
        }
        return .path(text)
    }

    mutating func directory(required: Bool) throws(ProtocolError) -> String? {
        guard let text = required ? try self.required("a directory") : optional() else { return nil }
        guard text.utf8.first == UInt8(ascii: "/") else { throw fail("'\(text)' is not an absolute path") }
        return text
    }

    mutating func clusterID() throws(ProtocolError) -> Int {
        let text = try required("a cluster id")
        guard let id = Int(text), (0...Int(Int32.max)).contains(id) else {
            throw fail("'\(text)' is not a cluster id (a whole number, as CLUSTERS lists them)")
        }
        return id
    }

    mutating func request() throws(ProtocolError) -> Request {
        let request: Request
        switch verb {
        case .ping: request = .ping
        case .help: request = .help
        case .quit: request = .quit
        case .status: request = .status
        case .similar:
            let target = try self.target()
            let query = try similarQuery()
            var within: String?
            if let text = options.removeValue(forKey: "within") {
                guard text.utf8.starts(with: "prefix:/".utf8) else {
                    throw fail("within=\(text) must be prefix:/absolute/dir")
                }
                within = String(Substring(text.utf8.dropFirst("prefix:".utf8.count)))
            }
            request = .similar(target, query, within: within)
        case .similarImage:
            let text = try required("the image's byte count")
            guard let count = Int(text), (1...(64 << 20)).contains(count) else {
                throw fail("byte count \(text) must be from 1 to 67108864")
            }
            request = .similarImage(byteCount: count, try similarQuery())
        case .info: request = .info(try target())
        case .explain:
            let target = try self.target()
            let text = try required("the ids to explain, comma-separated")
            let words = text.split(separator: ",", omittingEmptySubsequences: false)
            guard words.count <= Request.maxExplained else {
                throw fail("\(words.count) ids; at most \(Request.maxExplained)")
            }
            var items: [ItemID] = []
            for word in words {
                guard let id = ItemID(validating: String(word)) else {
                    throw fail("'\(word)' is not an item id (1 to \(Int64.max))")
                }
                items.append(id)
            }
            request = .explain(target, items: items)
        // At most 16 bits: candidates come from the hash cut into max_distance + 1 blocks, and
        // past ~16 the blocks are too narrow to split anything, so the search would compare
        // every pair (a 1,000-item collection took 23 s at 64). Unrelated images differ in ~32.
        case .duplicates:
            let tierText = options.removeValue(forKey: "tier") ?? DuplicateTier.near.rawValue
            guard let tier = DuplicateTier(rawValue: tierText) else {
                throw fail(
                    "tier=\(tierText) is not one of \(DuplicateTier.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            request = .duplicates(
                tier: tier, maxDistance: try integer("max_distance", default: 6, in: 0...Request.maxDuplicateDistance))
        case .errors: request = .errors(limit: try integer("limit", default: 100, in: 1...100_000))
        case .rescan: request = .rescan(directory: try directory(required: false))
        case .watch: request = .watch(directory: try directory(required: true)!)
        case .unwatch: request = .unwatch(directory: try directory(required: true)!)
        case .refit:
            let word = optional()
            guard word == nil || word?.lowercased() == "wait" else { throw fail("'\(word!)' is not 'wait'") }
            request = .refit(wait: word != nil)
        case .runs: request = .runs(limit: try integer("limit", default: 20, in: 1...1000))
        case .clusters: request = .clusters
        case .cluster:
            request = .cluster(id: try clusterID(), limit: try integer("limit", default: 50, in: 1...1_000_000))
        case .nameCluster:
            let id = try clusterID()
            let text = try required("a name (\"\" removes it)")
            do throws(ClusterName.Invalid) {
                request = .nameCluster(id: id, name: try ClusterName(validating: text))
            } catch {
                throw fail(error.description)
            }
        case .map: request = .map(dimensions: try integer("dims", default: 2, in: 2...3))
        case .backup: request = .backup(directory: try directory(required: true)!)
        case .run: request = .run(id: try optional().map { (text) throws(ProtocolError) in try runID(text) })
        case .runClusters: request = .runClusters(run: try runID(try required("a run id")))
        case .runMembers:
            let run = try runID(try required("a run id"))
            request = .runMembers(
                run: run, after: UInt64(try integer("after", default: 0, in: 0...Int(Int64.max))),
                limit: try integer("limit", default: 10_000, in: 1...100_000))
        case .thumbs:
            request = .thumbs(
                after: UInt64(try integer("after", default: 0, in: 0...Int(Int64.max))),
                limit: try integer("limit", default: 1000, in: 1...10_000))
        case .format:
            let text = try required("text or json")
            guard let format = OutputFormat(rawValue: text.lowercased()) else {
                throw fail("'\(text)' is not text or json")
            }
            request = .format(format)
        }
        if let extra = positional.first { throw fail("unexpected argument '\(extra)'") }
        if let key = options.keys.sorted().first { throw fail("unknown option '\(key)'") }
        return request
    }
}
