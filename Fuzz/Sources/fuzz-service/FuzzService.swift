import Foundation
import FuzzSupport
import KindredCore
import KindredEngine
import KindredImaging
import KindredProtocol
import KindredServer
import KindredStore
import Logging

/// What the daemon does with a parsed request, not only the parsing: each input is a client's
/// bytes (the first byte picks the peer: even an admin, odd a stranger), framed into lines and
/// parsed; each request is authorized and answered by the real `CommandService` over a small real
/// state (60 items with CNN, style and pHash vectors, live HNSW indexes, a watched root), a
/// SIMILAR-IMAGE taking the bytes that follow it. Some items may not be a query's target: three
/// changed on disk (queued, their older vectors kept), two failed, two new and not yet read.
/// Refusals are answers; a crash, a hang, a leak, an `internal` error, or the catalog, the store
/// and the indexes changing or disagreeing afterwards is a bug.
@_cdecl("fuzz_service_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzService(data!, size) }
}

/// The state every input runs against.
struct Fixture {
    let service: CommandService
    let state: StateStore
    let indexes: LiveIndexes
    /// The ids the catalog calls indexed, and the ids with vectors: those and the changed items.
    let indexed: Set<UInt64>, described: Set<UInt64>
}

/// Made once per process.
let fixture: Fixture = {
    let root = URL(
        fileURLWithPath: FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    )
    .appendingPathComponent("kindred-fuzz-service-\(getpid())")
    try? FileManager.default.removeItem(at: root)
    let paths = StatePaths(root: root.appendingPathComponent("state"))
    var logger = Logger(label: "fuzz")
    logger.logLevel = .critical
    do {
        let state = try StateStore(paths: paths, spaces: StandardSpaces.all, logger: logger)
        let art = try CollectionPath(root.appendingPathComponent("art").path)
        try FileManager.default.createDirectory(atPath: art.string + "/sub", withIntermediateDirectories: true)
        try state.catalog.addRoot(art)
        var random = SeededRandom(seed: 7)
        let files = (0..<60).map {
            Catalog.SeenFile(path: art.string + ($0 % 3 == 0 ? "/sub" : "") + "/img\($0).jpg", size: 1, mtimeNs: 1)
        }
        try state.importItems(files, contentHash: "fuzz") { _ in
            let cnn = (0..<StandardSpaces.cnn.dimension).map { _ in Float(random.unit()) - 0.5 }
            let style = (0..<StandardSpaces.style.dimension).map { _ in Float(random.unit()) }
            return [
                (StandardSpaces.cnn.name, .floats(cnn)), (StandardSpaces.style.name, .floats(style)),
                (StandardSpaces.phash.name, .bytes((0..<8).map { _ in UInt8(random.below(256)) })),
            ]
        }
        let ids = try state.catalog.itemIDs()
        for file in files.prefix(3) { _ = try state.catalog.enqueue(path: file.path, size: 2, mtimeNs: 2) }
        try state.fail(ids[3..<5].map { ($0, "fuzz: not an image", nil) })
        for name in ["new0.jpg", "sub/new1.jpg"] {
            _ = try state.catalog.enqueue(path: art.string + "/" + name, size: 1, mtimeNs: 1)
        }
        let (indexes, _) = try LiveIndexes.open(paths: paths, store: state.vectors, threads: 1, logger: logger)
        var options = DecodeOptions()
        options.pixelLimit = 4_000_000
        options.streamedPixelLimit = 16_000_000
        let service = CommandService(
            catalog: state.catalog, store: state.vectors, indexes: indexes, decodeOptions: options, logger: logger)
        let indexed = Set(try state.catalog.itemIDs(status: .indexed).map(\.rawValue))
        let described = indexed.union(ids.prefix(3).map(\.rawValue))
        precondition(indexed.count == 55 && described.count == 58, "the fixture's items are not as described")
        return Fixture(service: service, state: state, indexes: indexes, indexed: indexed, described: described)
    } catch {
        fatalError("cannot make the fuzzing state: \(error)")
    }
}()

let admin = Peer(pid: 1, uid: getuid(), gid: getgid())
let stranger = Peer(pid: 2, uid: 4242, gid: 4242)
let parser = RequestParser(maxLineLength: 4096)

func fuzzService(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let (service, state, indexes) = (fixture.service, fixture.state, fixture.indexes)
    let peer = data[0] % 2 == 0 ? admin : stranger
    var framer = LineFramer(maxLineLength: 4096)
    var pending: SimilarQuery?
    framer.feed(UnsafeBufferPointer(start: data + 1, count: size - 1)) { event -> LineFramer.Next in
        switch event {
        case .tooLong: return .lines
        case .payload(let bytes):
            if let query = pending { check(service.answerImage(bytes, query)) }
            pending = nil
            return .lines
        case .line(let line):
            guard let request = try? parser.parse(line) else { return .lines }
            do throws(ProtocolError) { try service.authorize(request, peer: peer) } catch {
                precondition(peer == stranger && request.verb.requiresAdmin, "\(line): refused to an admin: \(error)")
                return .lines
            }
            switch request {
            case .similarImage(let count, let query):
                pending = query
                return .payload(min(count, 1 << 16))
            case .refit, .quit, .format, .backup: return .lines  // connection state, or work on other threads
            default: check(service.answer(request))
            }
            return .lines
        }
    }
    // Nothing a request does changes which items are indexed or described.
    let indexed = Set((try? state.catalog.itemIDs(status: .indexed))?.map(\.rawValue) ?? [])
    precondition(indexed == fixture.indexed, "the catalog's indexed items changed")
    let described = fixture.described
    precondition(
        Set((try? state.vectors.ids(space: "cnn"))?.map(\.rawValue) ?? []) == described, "catalog and store disagree")
    precondition(indexes.all.allSatisfy { Set($0.index.liveLabels()) == described }, "catalog and index disagree")
    return 0
}

func check(_ result: Result<Response, ProtocolError>) {
    if case .failure(let error) = result { precondition(error.code != .internalError, "internal error: \(error)") }
}
