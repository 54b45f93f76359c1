import Foundation
import KindredCore

/// Kindred's own weight file: the converted, batch-norm-folded tensors in the layouts inference
/// uses, so loading is a read and a checksum, never a conversion.
///
/// | field | bytes |
/// |---|---|
/// | magic `KNDRWGTS` | 8 |
/// | format version (1), little-endian | 4 |
/// | model name length, then UTF-8 | 4 + n |
/// | tensor count | 4 |
/// | per tensor: name length, name, rank, each dimension (u32), then float32 values | … |
/// | checksum (Kindred's 64-bit checksum of every byte before it) | 8 |
public struct ModelWeights: Sendable, Equatable {
    static let magic = Array("KNDRWGTS".utf8)
    static let formatVersion: UInt32 = 1

    public var model: String
    /// In file order.
    public var tensors: [(name: String, tensor: WeightTensor)]

    public init(model: String, tensors: [(name: String, tensor: WeightTensor)]) {
        self.model = model
        self.tensors = tensors
    }

    public static func == (a: ModelWeights, b: ModelWeights) -> Bool {
        a.model == b.model && a.tensors.count == b.tensors.count
            && zip(a.tensors, b.tensors).allSatisfy { $0.name == $1.name && $0.tensor == $1.tensor }
    }

    public subscript(name: String) -> WeightTensor? { tensors.first { $0.name == name }?.tensor }

    /// Writes atomically (temporary file, then rename).
    public func write(to url: URL) throws(WeightsError) {
        var bytes: [UInt8] = Self.magic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { bytes += $0 } }
        func text(_ s: String) { u32(s.utf8.count); bytes += Array(s.utf8) }
        u32(Int(Self.formatVersion))
        text(model)
        u32(tensors.count)
        for (name, tensor) in tensors {
            text(name)
            u32(tensor.shape.count)
            tensor.shape.forEach(u32)
            tensor.values.withUnsafeBytes { bytes += $0 }
        }
        var checksum = Checksum()
        bytes.withUnsafeBytes { checksum.update($0) }
        withUnsafeBytes(of: checksum.value.littleEndian) { bytes += $0 }
        let temporary = url.path + ".tmp-\(getpid())"
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
            try FileManager.default.moveItem(atPath: temporary, toPath: url.path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw WeightsError(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// The largest weight file read: EfficientNet-Lite0's is 18 MB.
    public static let maxFileBytes = 256 << 20

    /// Reads and verifies a weight file: magic, version, every length against the file size,
    /// then the checksum, before any tensor is used.
    public static func read(from url: URL) throws(WeightsError) -> ModelWeights {
        let path = url.path
        func bad(_ reason: String) -> WeightsError { WeightsError(path: path, reason: reason) }
        let bytes: [UInt8]
        do { bytes = try FileIO.readWhole(path, limit: maxFileBytes) } catch {
            if error.reason == .cannotOpen(errno: ENOENT) { throw bad("no weight file here") }
            throw bad("\(error)")
        }
        guard bytes.count >= 28 else { throw bad("\(bytes.count) bytes, too short for a weight file") }
        guard Array(bytes[0..<8]) == magic else {
            throw bad("not a Kindred weight file (no KNDRWGTS magic)")
        }
        let body = bytes.count - 8
        var checksum = Checksum()
        bytes.withUnsafeBytes { checksum.update(UnsafeRawBufferPointer(rebasing: $0[0..<body])) }
        let stored = bytes[body...].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard checksum.value == stored else { throw bad("checksum mismatch: the file is damaged or truncated") }

        var at = 8
        func u32() throws(WeightsError) -> Int {
            guard at + 4 <= body else { throw bad("ends inside a field") }
            defer { at += 4 }
            return bytes[at..<(at + 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
        }
        func text() throws(WeightsError) -> String {
            let count = try u32()
            guard count < 1 << 16, at + count <= body else { throw bad("a name runs past the end") }
            defer { at += count }
            return String(decoding: bytes[at..<(at + count)], as: UTF8.self)
        }
        let version = try u32()
        guard version == Int(formatVersion) else {
            throw bad("format version \(version); this build reads version \(formatVersion)")
        }
        let model = try text()
        let count = try u32()
        var tensors: [(String, WeightTensor)] = []
        for _ in 0..<count {
            let name = try text()
            let rank = try u32()
            guard rank <= 8 else { throw bad("tensor \(name) has rank \(rank)") }
            var shape: [Int] = []
            for _ in 0..<rank { shape.append(try u32()) }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            // Compared by division: this module is built -Ounchecked, where `elements * 4` would
            // wrap silently (found by Fuzz/fuzz-weights).
            guard !overflow, elements <= (body - at) / 4 else { throw bad("tensor \(name) runs past the end") }
            let values = bytes[at..<(at + elements * 4)].withUnsafeBytes { raw in
                (0..<elements).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
                }
            }
            at += elements * 4
            // One NaN or infinity would make every vector the network computes NaN, and each file
            // after it fail to store (VectorStore.Batch.put refuses them): refused here, by name.
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw WeightsError(
                    path: path, reason: "tensor \(name) holds \(values[bad]) at element \(bad); weights must be finite")
            }
            tensors.append((name, WeightTensor(shape: shape, values: values)))
        }
        guard at == body else { throw bad("\(body - at) bytes after the last tensor") }
        return ModelWeights(model: model, tensors: tensors)
    }
}
