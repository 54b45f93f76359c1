import Foundation
import KindredCore
import Logging
import Synchronization

/// The index file (Schema/hnsw.md is the specification). A 64-byte header, then sections, each
/// padded to 8 bytes:
///
/// | offset | bytes | field |
/// |---|---|---|
/// | 0 | 8 | magic `KNDRHNSW` |
/// | 8 | 4 | format version (3; 1 and 2 are still read: see below) |
/// | 12 | 4 | header size (64) |
/// | 16 | 1 | metric: 1 cosine, 2 L2 |
/// | 17 | 1 | row encoding: 0 float32, 1 float16, 2 int8 |
/// | 18 | 2 | reserved, 0 |
/// | 20 | 4 | dimension |
/// | 24 | 4 | M |
/// | 28 | 4 | efConstruction |
/// | 32 | 8 | seed |
/// | 40 | 4 | node slots n |
/// | 44 | 4 | entry point |
/// | 48 | 4 | top layer + 1 (0: empty) |
/// | 52 | 4 | upper-layer words |
/// | 56 | 8 | checksum of everything after the header (`SnapshotChecksum`) |
///
/// Sections: labels (n × u64), levels (n × u8), states (n × u8), rows (n × the encoding's row
/// bytes: `VectorEncoding.rowBytes`), layer-0 links (n × (2M + 1) × u32), upper-layer links
/// (for each node with level > 0, in id order, level × (M + 1) × u32). All little-endian.
///
/// Version 3 changed only the checksum (XXH3); version 2 files are verified with the checksum they
/// were written with, and version 1 is version 2 with float32 rows.
extension HNSWIndex {
    static let magic: [UInt8] = Array("KNDRHNSW".utf8)
    static let formatVersion: UInt32 = 3
    static let headerSize = 64

    /// Writes the index to `url` atomically (a temporary file, fsync, rename, fsync of the
    /// directory so the rename itself survives a power cut). It excludes inserts and removes while
    /// it writes (`mutations`), so the file is one consistent moment, but not searches.
    public func save(to url: URL) throws(IndexError) {
        let path = url.path
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(path: temporary, errno: errno) }
        var failed: Int32 = 0
        mutations.lockExclusive()
        defer { mutations.unlock() }
        storage.withShared {
            let n = slotsUsed.load(ordering: .relaxed)
            let checksum = SnapshotChecksum(formatVersion: Int(Self.formatVersion))
            var offset = Self.headerSize
            func putRaw(_ bytes: UnsafeRawBufferPointer) {
                guard failed == 0 else { return }
                checksum.update(bytes)
                if !FileIO.write(fd, bytes, at: offset) { failed = errno == 0 ? EIO : errno }
                offset += bytes.count
            }
            /// A section, then zeros up to the next multiple of 8 bytes.
            func put(_ bytes: UnsafeRawBufferPointer) {
                putRaw(bytes)
                let pad = (8 - bytes.count % 8) % 8
                if pad > 0 { withUnsafeBytes(of: UInt64(0)) { putRaw(UnsafeRawBufferPointer(rebasing: $0[0..<pad])) } }
            }
            put(UnsafeRawBufferPointer(start: labels, count: n * 8))
            put(UnsafeRawBufferPointer(start: levels, count: n))
            var stateBytes = [UInt8](repeating: 0, count: n)
            for i in 0..<n { stateBytes[i] = states[i].load(ordering: .relaxed) }
            stateBytes.withUnsafeBytes { put($0) }
            put(UnsafeRawBufferPointer(start: rows, count: n * rowBytes))
            put(UnsafeRawBufferPointer(start: UnsafeRawPointer(links0), count: n * (maxLinks0 + 1) * 4))
            var upper: [UInt32] = []
            for id in 0..<n where levels[id] > 0 {
                let block = upperLinks[id]!
                for w in 0..<(Int(levels[id]) * (maxLinks + 1)) { upper.append(block[w].load(ordering: .relaxed)) }
            }
            upper.withUnsafeBytes { put($0) }
            let upperWords = upper.count
            var header = [UInt8](repeating: 0, count: Self.headerSize)
            header.withUnsafeMutableBytes { h in
                h.copyBytes(from: Self.magic)
                h.storeBytes(of: Self.formatVersion.littleEndian, toByteOffset: 8, as: UInt32.self)
                h.storeBytes(of: UInt32(Self.headerSize).littleEndian, toByteOffset: 12, as: UInt32.self)
                h[16] = metric.code
                h[17] = encoding.code
                h.storeBytes(of: UInt32(dimension).littleEndian, toByteOffset: 20, as: UInt32.self)
                h.storeBytes(of: UInt32(parameters.connectivity).littleEndian, toByteOffset: 24, as: UInt32.self)
                h.storeBytes(of: UInt32(parameters.efConstruction).littleEndian, toByteOffset: 28, as: UInt32.self)
                h.storeBytes(of: parameters.seed.littleEndian, toByteOffset: 32, as: UInt64.self)
                h.storeBytes(of: UInt32(n).littleEndian, toByteOffset: 40, as: UInt32.self)
                let packed = entry.load(ordering: .relaxed)
                h.storeBytes(of: UInt32(truncatingIfNeeded: packed).littleEndian, toByteOffset: 44, as: UInt32.self)
                h.storeBytes(of: UInt32(packed >> 32).littleEndian, toByteOffset: 48, as: UInt32.self)
                h.storeBytes(of: UInt32(upperWords).littleEndian, toByteOffset: 52, as: UInt32.self)
                h.storeBytes(of: checksum.value.littleEndian, toByteOffset: 56, as: UInt64.self)
            }
            if failed == 0, !header.withUnsafeBytes({ FileIO.write(fd, $0, at: 0) }) {
                failed = errno == 0 ? EIO : errno
            }
        }
        if failed == 0, fsync(fd) != 0 { failed = errno }
        close(fd)
        if failed == 0, rename(temporary, path) != 0 { failed = errno }
        if failed == 0 {
            let directory = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directory >= 0 {
                if fsync(directory) != 0 { failed = errno }
                close(directory)
            }
        }
        if failed != 0 {
            unlink(temporary)
            throw .io(path: path, errno: failed)
        }
    }

    /// Reads an index written by `save`. Every field is checked before use (sizes against the
    /// file's length, the checksum, then every link against the node count), so a damaged or
    /// foreign file gives an error, never a crash.
    public static func load(from url: URL, logger: Logger) throws(IndexError) -> HNSWIndex {
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, errno: errno) }
        defer { close(fd) }
        func bad(_ reason: String) -> IndexError { .badFile(path: path, reason: reason) }
        let header = try SnapshotHeader.read(fd, path: path)
        let (n, upperWords) = (header.nodes, header.upperWords)
        let index = try HNSWIndex(
            dimension: header.dimension, metric: header.metric, parameters: header.parameters,
            encoding: header.encoding, capacity: max(n, 16), logger: logger)
        precondition(
            index.rowBytes == header.rowBytes && index.maxLinks0 == header.maxLinks0,
            "SnapshotHeader's layout must match HNSWIndex's")

        let checksum = SnapshotChecksum(formatVersion: header.version)
        var offset = headerSize
        /// Reads in pieces of 4 MiB, each checksummed while it is still in the cache: the rows of a
        /// million items are 1.3 GB, which a read-then-checksum would stream from memory twice.
        func takeRaw(_ destination: UnsafeMutableRawBufferPointer) throws(IndexError) {
            let piece = 4 << 20  // a multiple of 8, as `SnapshotChecksum` asks of version 2 files
            var done = 0
            while done < destination.count {
                let part = UnsafeMutableRawBufferPointer(
                    rebasing: destination[done..<min(done + piece, destination.count)])
                guard FileIO.read(fd, into: part, at: offset) == part.count else {
                    throw .io(path: path, errno: errno == 0 ? EIO : errno)
                }
                checksum.update(UnsafeRawBufferPointer(part))
                offset += part.count
                done += part.count
            }
        }
        /// A section, then its padding to the next multiple of 8 bytes.
        func take(_ destination: UnsafeMutableRawBufferPointer) throws(IndexError) {
            try takeRaw(destination)
            let pad = (8 - destination.count % 8) % 8
            if pad > 0 {
                var zeros: UInt64 = 0
                try withUnsafeMutableBytes(of: &zeros) { (z) throws(IndexError) in
                    try takeRaw(UnsafeMutableRawBufferPointer(rebasing: z[0..<pad]))
                }
            }
        }
        try take(UnsafeMutableRawBufferPointer(start: index.labels, count: n * 8))
        try take(UnsafeMutableRawBufferPointer(start: index.levels, count: n))
        var stateBytes = [UInt8](repeating: 0, count: n)
        // Array's buffer accessors rethrow untyped errors; `take` throws only IndexError.
        do { try stateBytes.withUnsafeMutableBytes { try take($0) } } catch { throw error as! IndexError }
        try take(UnsafeMutableRawBufferPointer(start: index.rows, count: n * index.rowBytes))
        try take(
            UnsafeMutableRawBufferPointer(
                start: UnsafeMutableRawPointer(index.links0), count: n * (index.maxLinks0 + 1) * 4))
        var upper = [UInt32](repeating: 0, count: upperWords)
        do { try upper.withUnsafeMutableBytes { try take($0) } } catch { throw error as! IndexError }
        guard checksum.value == header.checksum else { throw bad("checksum mismatch (the file is damaged)") }

        try index.adopt(states: stateBytes, upper: upper, header: header, path: path)
        index.loadedFormatVersion = header.version
        return index
    }

    /// Takes the node states and upper-layer links just read, checking the structure first: every
    /// level, state and link in range, before anything follows a link.
    private func adopt(
        states stateBytes: [UInt8], upper: [UInt32], header: SnapshotHeader, path: String
    ) throws(IndexError) {
        func bad(_ reason: String) -> IndexError { .badFile(path: path, reason: reason) }
        let (n, upperWords, entryID, topPlusOne) = (header.nodes, header.upperWords, header.entryID, header.topPlusOne)
        let index = self
        var cursor = 0
        var book = Bookkeeping()
        book.slotByLabel.reserveCapacity(n)
        for id in 0..<n {
            let level = Int(index.levels[id])
            guard level <= 30, let state = NodeState(rawValue: stateBytes[id]) else {
                throw bad("node \(id) has level \(level) or state \(stateBytes[id]) out of range")
            }
            index.states[id].store(state.rawValue, ordering: .relaxed)
            switch state {
            case .live:
                guard book.slotByLabel.updateValue(UInt32(id), forKey: index.labels[id]) == nil else {
                    throw bad("label \(index.labels[id]) appears twice")
                }
            case .deleted: book.deletedCount += 1
            case .free: book.freeSlots.append(UInt32(id))
            }
            if level > 0 {
                let words = level * (index.maxLinks + 1)
                guard cursor + words <= upperWords else { throw bad("upper-layer links shorter than the levels imply") }
                let block = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: words)
                for w in 0..<words { (block + w).initialize(to: Atomic(upper[cursor + w])) }
                index.upperLinks[id] = block
                cursor += words
            }
            for layer in 0...level {
                let list = index.linkList(UInt32(id), layer)
                let count = Int(list[0].load(ordering: .relaxed))
                guard count <= index.maxLinks(onLayer: layer) else {
                    throw bad("node \(id) has \(count) links on layer \(layer)")
                }
                for j in 0..<count {
                    let target = list[j + 1].load(ordering: .relaxed)
                    if let fault = index.unsafeLink(onLayer: layer, to: target, slots: n) {
                        throw bad("node \(id) links on layer \(layer) to node \(target), \(fault)")
                    }
                }
            }
            if state == .free, let fault = index.unsoundFreeSlot(id) { throw bad(fault) }
        }
        guard cursor == upperWords else { throw bad("upper-layer links longer than the levels imply") }
        if topPlusOne > 0 {
            guard entryID < n, Int(index.levels[entryID]) == topPlusOne - 1 else {
                throw bad("entry point \(entryID) is not a node on the top layer")
            }
            index.entry.store(UInt64(topPlusOne) << 32 | UInt64(entryID), ordering: .relaxed)
        } else if n > 0 && !book.slotByLabel.isEmpty {
            throw bad("nodes but no entry point")
        }
        index.slotsUsed.store(n, ordering: .relaxed)
        index.book.withLock { $0 = book }
    }
}

/// The 64-byte header of a snapshot (Schema/hnsw.md), every field checked, and the file's length
/// checked against what the header implies before anything is allocated.
struct SnapshotHeader {
    var version: Int
    var metric: Metric
    var encoding: VectorEncoding
    var parameters: HNSWParameters
    var dimension: Int
    var nodes: Int
    var entryID: Int
    var topPlusOne: Int
    var upperWords: Int
    var checksum: UInt64
    var rowBytes: Int
    var maxLinks0: Int

    static func read(_ fd: Int32, path: String) throws(IndexError) -> SnapshotHeader {
        func bad(_ reason: String) -> IndexError { .badFile(path: path, reason: reason) }
        let headerSize = HNSWIndex.headerSize
        var header = [UInt8](repeating: 0, count: headerSize)
        guard header.withUnsafeMutableBytes({ FileIO.read(fd, into: $0, at: 0) }) == headerSize else {
            throw bad("shorter than the 64-byte header")
        }
        guard Array(header[0..<8]) == HNSWIndex.magic else { throw bad("no KNDRHNSW magic (not an index file)") }
        func u32(_ at: Int) -> Int {
            Int(UInt32(littleEndian: header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) }))
        }
        let version = u32(8)
        guard (1...Int(HNSWIndex.formatVersion)).contains(version) else {
            throw bad("format version \(version); this build reads versions 1 to \(HNSWIndex.formatVersion)")
        }
        guard u32(12) == headerSize else { throw bad("header size \(u32(12)), expected \(headerSize)") }
        guard let metric = Metric(code: header[16]) else { throw bad("unknown metric code \(header[16])") }
        // Version 1 had no encoding byte (it was reserved, 0: float32 rows).
        guard let encoding = VectorEncoding(code: header[17]), version >= 2 || encoding == .float32 else {
            throw bad("unknown row encoding \(header[17]) for format version \(version)")
        }
        let seed = UInt64(
            littleEndian: header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self) })
        let parameters = HNSWParameters(connectivity: u32(24), efConstruction: u32(28), seed: seed)
        let dimension = u32(20)
        do throws(IndexError) { try parameters.validate(dimension: dimension) } catch {
            throw bad("header holds invalid parameters: \(error)")
        }
        let n = u32(40), entryID = u32(44), topPlusOne = u32(48), upperWords = u32(52)
        let storedChecksum = UInt64(
            littleEndian: header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 56, as: UInt64.self) })
        guard n < Int(UInt32.max) else { throw bad("node count \(n) too large") }

        // The file's length is checked against the header before anything is allocated, so a
        // header claiming billions of nodes costs nothing (found by Fuzz/fuzz-snapshot).
        let rowBytes = encoding.rowBytes(dimension: dimension), maxLinks0 = 2 * parameters.connectivity
        let padded = { (bytes: Int) in (bytes + 7) / 8 * 8 }
        let (expected, overflow) = { () -> (Int, Bool) in
            let parts = [
                headerSize, padded(n * 8), 2 * padded(n), padded(n * rowBytes), padded(n * (maxLinks0 + 1) * 4),
                padded(upperWords * 4),
            ]
            return parts.reduce((0, false)) {
                let (s, o) = $0.0.addingReportingOverflow($1); return (s, $0.1 || o)
            }
        }()
        var info = stat()
        fstat(fd, &info)
        guard !overflow, Int(info.st_size) == expected else {
            throw bad("\(info.st_size) bytes where the header implies \(expected) (truncated or altered)")
        }
        return SnapshotHeader(
            version: version, metric: metric, encoding: encoding, parameters: parameters, dimension: dimension,
            nodes: n,
            entryID: entryID,
            topPlusOne: topPlusOne,
            upperWords: upperWords, checksum: storedChecksum, rowBytes: rowBytes, maxLinks0: maxLinks0)
    }
}
