import Foundation
import KindredCore
import KindredEngine
import KindredProtocol
import KindredServer
import KindredTestSupport
import Testing

/// The registry, the verbs, the command service and Schema/protocol.md say the same thing.
@Suite struct VerbRegistryTests {
    /// The verbs of protocol.md's table of verbs, as written at the start of each row.
    func documentedVerbs() throws -> [String] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Schema/protocol.md"), encoding: .utf8)
        let table = text.components(separatedBy: "\n").drop { !$0.hasPrefix("| request |") }.dropFirst(2).prefix {
            $0.hasPrefix("| `")
        }
        return table.map { String($0.dropFirst(3).prefix { $0 != " " && $0 != "`" }) }
    }

    @Test func helpTheDocumentAndTheVerbsAgree() throws {
        let verbs = Verb.allCases.map(\.rawValue)
        #expect(try documentedVerbs().sorted() == verbs.sorted())
        #expect(VerbRegistry.help.rows.map { $0[0] } == verbs)
        #expect(VerbRegistry.help.rows.allSatisfy { $0.count == 3 && !$0[1].isEmpty && ["yes", "no"].contains($0[2]) })
        // Every verb group has its verbs; only the collection's, REFIT and NAME-CLUSTER are admin.
        for verb in Verb.allCases where verb.requiresAdmin {
            #expect(
                [.collection, .connection].contains(VerbRegistry.answerer(verb)) || verb == .nameCluster, "\(verb)")
        }
        #expect(Set(Verb.allCases.map(VerbRegistry.answerer)) == Set(VerbRegistry.Answerer.allCases))
    }

    /// The command service answers exactly the verbs the registry gives it; the connection's are
    /// refused as internal errors (they never reach it from a connection).
    @Test func theServiceAnswersItsVerbsAndOnlyThose() throws {
        let fixture = try IngestFixture()
        let service = CommandService(
            catalog: fixture.catalog, store: fixture.store, indexes: fixture.ingestor.indexes, logger: testLogger)
        let parser = RequestParser()
        let examples = [
            "PING", "HELP", "QUIT", "FORMAT json", "SIMILAR-IMAGE 10", "REFIT", "STATUS", "SIMILAR 1", "INFO 1",
            "EXPLAIN 1 2",
            "DUPLICATES",
            "ERRORS", "THUMBS", "RESCAN", "WATCH /nonexistent", "UNWATCH /nonexistent", "BACKUP /nonexistent", "RUNS",
            "CLUSTERS",
            "CLUSTER 1", "MAP", "RUN", "RUN-CLUSTERS 1", "RUN-MEMBERS 1", "NAME-CLUSTER 1 x",
        ]
        #expect(Set(examples.map { try? parser.parse($0).verb }) == Set(Verb.allCases))
        for line in examples {
            let request = try parser.parse(line)
            let answer = service.answer(request)
            let refusedAsTheConnections =
                if case .failure(let error) = answer { error.message.contains("answered by the connection") } else {
                    false
                }
            let connectionVerb =
                VerbRegistry.answerer(request.verb) == .connection && request != .ping && request != .help
            #expect(refusedAsTheConnections == connectionVerb, "\(line) → \(answer)")
        }
    }
}
