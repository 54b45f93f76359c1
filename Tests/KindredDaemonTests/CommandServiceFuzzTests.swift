import Foundation
import KindredCore
import KindredEngine
import KindredFeatures
import KindredProtocol
import KindredServer
import KindredStore
import KindredTestSupport
import Testing

/// Fuzzes what the daemon does with a parsed request, not only the parser: seeded sequences of
/// requests built from hostile pieces (ids at and past every edge, paths inside and outside the
/// roots, `..`, missing files, bad images, every verb and option), from admin and non-admin
/// peers, interleaved with changes to the collection (files added, rewritten, renamed, deleted),
/// run through the real `CommandService` over a real state. After every step: no crash, every
/// answer is a success or a typed refusal (never `internal`), and the three stores agree: the
/// catalog's indexed items are exactly the vector store's and each live index's.
@Suite(.serialized) struct CommandServiceFuzzTests {
    struct Pieces {
        let root: String
        let files: [String]

        func target(_ random: inout SeededRandom) -> String {
            switch random.below(9) {
            case 0: return String(random.below(12))
            case 1:
                return [
                    "0", "-1", "9223372036854775807", "9223372036854775808", "18446744073709551615",
                    "99999999999999999999999",
                ][random.below(6)]
            case 2: return "\"\(files[random.below(files.count)])\""
            case 3: return "\"\(root)/../\(files[random.below(files.count)].split(separator: "/").last!)\""
            case 4:
                return [
                    "/etc/passwd", "/", "//", "/proc/self/mem", "\"\(root)\"", "\"\(root)/missing.jpg\"",
                    "\"\(root)//sub dir/\"",
                ][random.below(7)]
            case 5: return "relative/path.jpg"
            default: return "\"\(files[random.below(files.count)])\""
            }
        }

        func number(_ random: inout SeededRandom) -> String {
            ["0", "1", "5", "64", "65", "1000", "1001", "100000", "-3", "1e3", "9223372036854775808", "x"][
                random.below(12)]
        }

        func line(_ random: inout SeededRandom) -> String {
            let directory = [
                "\"\(root)\"", "\"\(root)/sub dir\"", "/", "/proc", "/tmp", "\"\(root)/nope\"", "\"\(root)/..\"",
            ][random.below(7)]
            switch random.below(14) {
            case 0: return "SIMILAR \(target(&random)) k=\(number(&random))"
            case 1:
                return
                    "SIMILAR \(target(&random)) space=\(["fused", "cnn", "style", "thumb"][random.below(4)]) explain=\(number(&random)) within=prefix:\(directory.replacingOccurrences(of: "\"", with: ""))"
            case 2:
                return random.below(2) == 0
                    ? "INFO \(target(&random))"
                    : "EXPLAIN \(target(&random)) \((0...random.below(3)).map { _ in number(&random) }.joined(separator: ","))"
            case 3: return "DUPLICATES max_distance=\(number(&random))"
            case 4: return "ERRORS limit=\(number(&random))"
            case 5: return "RESCAN \(random.below(2) == 0 ? "" : directory)"
            case 6: return "WATCH \(directory)"
            case 7: return "UNWATCH \(directory)"
            case 8: return "RUNS limit=\(number(&random))"
            case 9:
                return random.below(2) == 0
                    ? "CLUSTER \(number(&random)) limit=\(number(&random))"
                    : "NAME-CLUSTER \(number(&random)) \(["\"\"", "x", "\"a\\tb\"", String(repeating: "n", count: 81)][random.below(4)])"
            case 10: return "MAP dims=\(number(&random))"
            case 11: return ["STATUS", "CLUSTERS", "PING", "HELP", "FORMAT json"][random.below(5)]
            case 12: return "SIMILAR-IMAGE \(number(&random))"
            default: return "SIMILAR \(target(&random))"
            }
        }
    }

    @Test func requestSequencesKeepTheCollectionConsistent() throws {
        let c = try IngestFixture.ingested()
        // A watch loop that is never started: RESCAN, WATCH and UNWATCH are validated and queued
        // to it, so the checks before the hand-over are what the sequences exercise.
        let control = WatchLoop(
            settings: WatchSettings(), ingestor: c.ingestor, progress: IngestProgress(),
            paths: StatePaths(root: c.root.appendingPathComponent("state")), logger: testLogger)
        let service = CommandService(
            catalog: c.catalog, store: c.store, indexes: c.ingestor.indexes,
            network: try StandardSpaces.network(weights: convertedWeights, batchSize: 1, threads: 1),
            control: control, logger: testLogger)
        let parser = RequestParser()
        let admin = Peer(pid: 1, uid: getuid(), gid: getgid()), stranger = Peer(pid: 2, uid: 4242, gid: 4242)
        let bomb = Fixtures.pngClaiming(width: 1_000_000_000, height: 1)
        let good = Fixtures.jpeg(composition(width: 200, height: 160, seed: 3))
        var random = SeededRandom(seed: UInt64(ProcessInfo.processInfo.environment["KINDRED_FUZZ_SEED"] ?? "") ?? 2026)
        let sequences = Int(ProcessInfo.processInfo.environment["KINDRED_FUZZ_SEQUENCES"] ?? "") ?? 40
        var answered = 0, refused: [ProtocolError.Code: Int] = [:]

        for sequence in 0..<sequences {
            let pieces = Pieces(root: c.images.path, files: c.files)
            for _ in 0..<25 {
                let line = pieces.line(&random)
                guard let request = try? parser.parse(line) else { continue }
                let peer = random.below(3) == 0 ? stranger : admin
                let result: Result<Response, ProtocolError>
                do throws(ProtocolError) {
                    try service.authorize(request, peer: peer)
                    switch request {
                    case .similarImage(_, let query):
                        var bytes = [bomb, good, Array(good.prefix(good.count / 2)), [0xFF, 0xD8]][random.below(4)]
                        if random.below(4) == 0 { bytes[random.below(bytes.count)] ^= 0xFF }
                        result = service.answerImage(bytes, query)
                    case .refit, .quit, .format: continue
                    default: result = service.answer(request)
                    }
                } catch {
                    #expect(peer == stranger && request.verb.requiresAdmin, "\(line) refused: \(error)")
                    result = .failure(error)
                }
                switch result {
                case .success: answered += 1
                case .failure(let error):
                    refused[error.code, default: 0] += 1
                    #expect(error.code != .internalError, "\(line) → \(error)")
                }
            }
            // The collection changes between sequences, as it would under a live daemon.
            let name = c.images.appendingPathComponent("fuzz-\(sequence % 4).jpg").path
            switch random.below(4) {
            case 0:
                try Data(Fixtures.jpeg(composition(width: 240, height: 200, seed: UInt64(100 + sequence)))).write(
                    to: URL(fileURLWithPath: name))
                _ = try c.ingestor.ingest([name])
            case 1:
                if FileManager.default.fileExists(atPath: name) {
                    try FileManager.default.removeItem(atPath: name); try c.ingestor.remove(path: name)
                }
            case 2:
                if FileManager.default.fileExists(atPath: name) {
                    let moved = c.images.appendingPathComponent("sub dir/moved-\(sequence).jpg").path
                    try FileManager.default.moveItem(atPath: name, toPath: moved)
                    try c.ingestor.rename(from: name, to: moved)
                }
            default:
                try Data(bomb).write(to: URL(fileURLWithPath: name))
                _ = try c.ingestor.ingest([name])
            }
            try expectConsistent(c, after: "sequence \(sequence)")
        }
        print(
            "service fuzz: \(sequences) sequences, \(answered) answered, refused \(refused.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))"
        )
        #expect(answered > sequences * 3 && refused.count >= 3, "the sequences reach both answers and refusals")
    }

    func expectConsistent(_ c: IngestFixture, after step: String) throws {
        let indexed = Set(try c.catalog.itemIDs(status: .indexed).map(\.rawValue))
        for space in StandardSpaces.required {
            #expect(
                Set(try c.store.ids(space: space.name).map(\.rawValue)) == indexed,
                "\(step): store \(space.name) = catalog")
        }
        for live in c.ingestor.indexes.all {
            #expect(Set(live.index.liveLabels()) == indexed, "\(step): index \(live.space) = catalog")
        }
    }
}
