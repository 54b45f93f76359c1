/// The subset of Python's pickle protocol 2 that legacy (non-zip) PyTorch checkpoints use, read
/// without Python. Objects are not constructed: a `GLOBAL` stays a name, and calling it (`REDUCE`)
/// stays a record of the call, which the checkpoint reader interprets. Any other opcode is an
/// error naming it, so a file of another kind is refused rather than misread.
///
/// Why hand-written: no Swift package reads pickles, and the format a checkpoint needs is ~25
/// opcodes; the alternative is making Python and PyTorch a run-time dependency.
indirect enum PickleValue {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    case persistent(PickleValue)
    case call(callable: PickleValue, arguments: [PickleValue])

    var int: Int? { if case .int(let v) = self { v } else { nil } }
    var string: String? { if case .string(let v) = self { v } else { nil } }
    var tuple: [PickleValue]? { if case .tuple(let v) = self { v } else { nil } }
}

/// Lists and dicts are shared by reference, as in Python: the memo and the stack see one object.
final class PickleList { var items: [PickleValue] = [] }
final class PickleDict { var items: [(key: PickleValue, value: PickleValue)] = [] }

struct Unpickler {
    struct Failure: Error { let message: String }

    private let bytes: [UInt8]
    private(set) var position: Int

    init(bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// Reads one pickle, up to and including its STOP.
    mutating func load() throws(Failure) -> PickleValue {
        var stack: [PickleValue?] = []  // nil is a MARK
        var memo: [Int: PickleValue] = [:]
        func pop() throws(Failure) -> PickleValue {
            guard let top = stack.popLast(), let value = top else {
                throw Failure(message: "stack underflow at byte \(position)")
            }
            return value
        }
        func popToMark() throws(Failure) -> [PickleValue] {
            guard let mark = stack.lastIndex(where: { $0 == nil }) else {
                throw Failure(message: "no MARK at byte \(position)")
            }
            let items = stack[(mark + 1)...].map { $0! }
            stack.removeSubrange(mark...)
            return items
        }
        while true {
            let at = position
            let opcode = try byte()
            switch opcode {
            case 0x80: _ = try byte()  // PROTO
            case 0x2E: return try pop()  // STOP
            case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x5D: stack.append(.list(PickleList()))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x28: stack.append(nil)  // MARK
            case 0x4E: stack.append(PickleValue.null)  // NONE (not `.none`, which would be a nil MARK)
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4B: stack.append(.int(Int(try byte())))  // BININT1
            case 0x4D: stack.append(.int(Int(try littleEndian(2))))  // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))  // BININT
            case 0x8A:  // LONG1
                let count = Int(try byte())
                guard count <= 16 else { throw Failure(message: "LONG1 of \(count) bytes at byte \(at)") }
                let raw = try take(count)
                // Kept only when it fits in an Int; the checkpoint magic (10 bytes) is compared as bytes.
                if count <= 8 {
                    var value = 0
                    for (i, b) in raw.enumerated() { value |= Int(b) << (8 * i) }
                    if count < 8, count > 0, raw[count - 1] & 0x80 != 0 { value -= 1 << (8 * count) }
                    stack.append(.int(value))
                } else {
                    stack.append(.string(raw.map { String($0, radix: 16) }.joined(separator: ",")))
                }
            case 0x47:  // BINFLOAT, big-endian
                let raw = try take(8)
                stack.append(.float(Double(bitPattern: raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
            case 0x58: stack.append(.string(try text(Int(try littleEndian(4)))))  // BINUNICODE
            case 0x8C: stack.append(.string(try text(Int(try byte()))))  // SHORT_BINUNICODE
            case 0x55: stack.append(.string(try text(Int(try byte()))))  // SHORT_BINSTRING
            case 0x63:  // GLOBAL
                stack.append(.global(module: try line(), name: try line()))
            case 0x71: memo[Int(try byte())] = try peek()  // BINPUT
            case 0x72: memo[Int(try littleEndian(4))] = try peek()  // LONG_BINPUT
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let key = opcode == 0x68 ? Int(try byte()) : Int(try littleEndian(4))
                guard let value = memo[key] else { throw Failure(message: "memo \(key) unset at byte \(at)") }
                stack.append(value)
            // Each value is computed before `stack.append` starts: an argument that pops from the
            // stack while `append` holds it would break exclusive access.
            case 0x74:  // TUPLE
                let items = try popToMark()
                stack.append(.tuple(items))
            case 0x85:  // TUPLE1
                let a = try pop()
                stack.append(.tuple([a]))
            case 0x86:  // TUPLE2
                let b = try pop(), a = try pop()
                stack.append(.tuple([a, b]))
            case 0x87:  // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                stack.append(.tuple([a, b, c]))
            case 0x51:  // BINPERSID
                let id = try pop()
                stack.append(.persistent(id))
            case 0x52:  // REDUCE
                let arguments = try pop(), callable = try pop()
                guard let list = arguments.tuple else {
                    throw Failure(message: "REDUCE without an argument tuple at byte \(at)")
                }
                if case .global("collections", "OrderedDict") = callable, list.isEmpty {
                    stack.append(.dict(PickleDict()))
                } else {
                    stack.append(.call(callable: callable, arguments: list))
                }
            case 0x62: _ = try pop()  // BUILD: object state (an OrderedDict's metadata), not needed
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                guard case .dict(let dict) = try peek() else {
                    throw Failure(message: "SETITEM on a non-dict at byte \(at)")
                }
                dict.items.append((key, value))
            case 0x75:  // SETITEMS
                let items = try popToMark()
                guard items.count % 2 == 0, case .dict(let dict) = try peek() else {
                    throw Failure(message: "bad SETITEMS at byte \(at)")
                }
                for i in stride(from: 0, to: items.count, by: 2) { dict.items.append((items[i], items[i + 1])) }
            case 0x61:  // APPEND
                let value = try pop()
                guard case .list(let list) = try peek() else {
                    throw Failure(message: "APPEND on a non-list at byte \(at)")
                }
                list.items.append(value)
            case 0x65:  // APPENDS
                let items = try popToMark()
                guard case .list(let list) = try peek() else {
                    throw Failure(message: "APPENDS on a non-list at byte \(at)")
                }
                list.items += items
            default:
                throw Failure(message: "unsupported pickle opcode 0x\(String(opcode, radix: 16)) at byte \(at)")
            }
        }

        func peek() throws(Failure) -> PickleValue {
            guard let top = stack.last, let value = top else {
                throw Failure(message: "nothing to store at byte \(position)")
            }
            return value
        }
    }

    mutating func byte() throws(Failure) -> UInt8 {
        guard position < bytes.count else { throw Failure(message: "the pickle ends early at byte \(position)") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func take(_ count: Int) throws(Failure) -> ArraySlice<UInt8> {
        guard count >= 0, position + count <= bytes.count else {
            throw Failure(message: "a \(count)-byte field runs past the end at byte \(position)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func littleEndian(_ count: Int) throws(Failure) -> UInt64 {
        try take(count).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    private mutating func text(_ count: Int) throws(Failure) -> String {
        String(decoding: try take(count), as: UTF8.self)
    }

    private mutating func line() throws(Failure) -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else {
            throw Failure(message: "unterminated GLOBAL at byte \(position)")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }
}
