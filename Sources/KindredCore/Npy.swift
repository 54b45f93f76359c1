import Foundation

/// The element types Kindred reads and writes in `.npy` files (little-endian, C order).
public enum NpyDType: String, Sendable {
    case float32 = "<f4"
    case int32 = "<i4"
    case int64 = "<i8"
    case float64 = "<f8"
    case uint8 = "|u1"

    var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .int64, .float64: 8
        case .uint8: 1
        }
    }
}

public protocol NpyElement: BitwiseCopyable, Sendable {
    static var npyDType: NpyDType { get }
}
extension Float: NpyElement { public static var npyDType: NpyDType { .float32 } }
extension Int32: NpyElement { public static var npyDType: NpyDType { .int32 } }
extension Int64: NpyElement { public static var npyDType: NpyDType { .int64 } }
extension UInt8: NpyElement { public static var npyDType: NpyDType { .uint8 } }
extension Double: NpyElement { public static var npyDType: NpyDType { .float64 } }

/// An n-dimensional array as numpy stores it: a shape and its values in C (row-major) order.
public struct NpyArray<Element: NpyElement>: Sendable {
    public var shape: [Int]
    public var values: [Element]

    public init(shape: [Int], values: [Element]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
}

public struct NpyError: Error, CustomStringConvertible, Equatable {
    public enum Reason: Equatable, Sendable {
        case cannotOpen(errno: Int32)
        case notNpy
        case unsupportedVersion(major: UInt8)
        case malformedHeader(String)
        case wrongDType(found: String, expected: String)
        case fortranOrder
        case wrongRank(found: Int, expected: Int)
        case truncated(expectedBytes: Int, foundBytes: Int)
        case trailingBytes(Int)
        case writeFailed(errno: Int32)
    }
    public let path: String
    public let reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        let what: String
        switch reason {
        case .cannotOpen(let e): what = "cannot open: \(String(cString: strerror(e)))"
        case .notNpy: what = "not a .npy file (no \\x93NUMPY magic)"
        case .unsupportedVersion(let v): what = ".npy format version \(v) is not supported (1, 2 and 3 are)"
        case .malformedHeader(let why): what = "malformed .npy header: \(why)"
        case .wrongDType(let found, let expected):
            what = "holds \(found) values but \(expected) was expected; convert with numpy: x.astype(...)"
        case .fortranOrder: what = "is in Fortran order; save it with np.ascontiguousarray(x)"
        case .wrongRank(let found, let expected): what = "has \(found) dimensions, \(expected) were expected"
        case .truncated(let want, let got):
            what = "truncated: the header promises \(want) bytes of data, the file holds \(got)"
        case .trailingBytes(let n): what = "has \(n) bytes after the data the header describes"
        case .writeFailed(let e): what = "write failed: \(String(cString: strerror(e)))"
        }
        return "\(path): \(what)"
    }
}

public enum Npy {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Reads a whole `.npy` file. The data is read straight into the result's storage.
    /// Opens a file and reads its header; returns the descriptor (positioned at the data, for the
    /// caller to close), the header, and how many bytes of data follow it.
    private static func openHeader(_ url: URL) throws(NpyError) -> (fd: Int32, header: NpyHeader, dataBytes: Int) {
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NpyError(path: path, reason: .cannotOpen(errno: errno)) }
        var handedOver = false
        defer { if !handedOver { close(fd) } }

        var prefix = [UInt8](repeating: 0, count: 10)
        guard prefix.withUnsafeMutableBytes({ FileIO.read(fd, into: $0) }) == 10, Array(prefix[0..<6]) == magic else {
            throw NpyError(path: path, reason: .notNpy)
        }
        let major = prefix[6]
        let headerLength: Int
        var headerStart = 10
        switch major {
        case 1:
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8
        case 2, 3:
            var more = [UInt8](repeating: 0, count: 2)
            guard more.withUnsafeMutableBytes({ FileIO.read(fd, into: $0) }) == 2 else {
                throw NpyError(path: path, reason: .malformedHeader("ends inside its length"))
            }
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(more[0]) << 16 | Int(more[1]) << 24
            headerStart = 12
        default:
            throw NpyError(path: path, reason: .unsupportedVersion(major: major))
        }
        guard headerLength > 0, headerLength < 1 << 20 else {
            throw NpyError(path: path, reason: .malformedHeader("header length \(headerLength) is implausible"))
        }
        var headerBytes = [UInt8](repeating: 0, count: headerLength)
        guard headerBytes.withUnsafeMutableBytes({ FileIO.read(fd, into: $0) }) == headerLength else {
            throw NpyError(path: path, reason: .malformedHeader("ends before its stated length \(headerLength)"))
        }
        let header: NpyHeader
        do {
            header = try NpyHeader(parsing: String(decoding: headerBytes, as: UTF8.self))
        } catch {
            throw NpyError(path: path, reason: .malformedHeader(error.message))
        }
        var info = stat()
        fstat(fd, &info)
        handedOver = true
        return (fd, header, max(0, Int(info.st_size) - headerStart - headerLength))
    }

    public static func read<E: NpyElement>(_ url: URL, as: E.Type = E.self) throws(NpyError) -> NpyArray<E> {
        let path = url.path
        let (fd, header, available) = try openHeader(url)
        defer { close(fd) }
        guard header.descr == E.npyDType.rawValue else {
            throw NpyError(path: path, reason: .wrongDType(found: header.descr, expected: E.npyDType.rawValue))
        }
        guard !header.fortranOrder else { throw NpyError(path: path, reason: .fortranOrder) }

        let count = header.shape.reduce(1, *)
        let byteCount = count * MemoryLayout<E>.stride
        guard available >= byteCount else {
            throw NpyError(path: path, reason: .truncated(expectedBytes: byteCount, foundBytes: max(0, available)))
        }
        guard available == byteCount else { throw NpyError(path: path, reason: .trailingBytes(available - byteCount)) }

        var shortRead = false
        let values = [E](unsafeUninitializedCapacity: count) { buffer, initialised in
            let raw = UnsafeMutableRawPointer(buffer.baseAddress)
            shortRead =
                byteCount > 0
                && FileIO.read(fd, into: UnsafeMutableRawBufferPointer(start: raw, count: byteCount)) != byteCount
            initialised = shortRead ? 0 : count
        }
        guard !shortRead else {
            throw NpyError(path: path, reason: .truncated(expectedBytes: byteCount, foundBytes: 0))
        }
        return NpyArray(shape: header.shape, values: values)
    }

    /// Reads a 2-D float32 file as a matrix; a 1-D file is one row.
    public static func readMatrix(_ url: URL) throws(NpyError) -> Matrix {
        let array = try read(url, as: Float.self)
        switch array.shape.count {
        case 1: return Matrix(rows: 1, columns: array.shape[0], storage: array.values)
        case 2: return Matrix(rows: array.shape[0], columns: array.shape[1], storage: array.values)
        default: throw NpyError(path: url.path, reason: .wrongRank(found: array.shape.count, expected: 2))
        }
    }

    public static func write(_ matrix: Matrix, to url: URL) throws(NpyError) {
        try write(NpyArray(shape: [matrix.rows, matrix.columns], values: matrix.storage), to: url)
    }

    /// Writes a version 1.0 file. The data goes to a temporary file first and is renamed into
    /// place, so a reader never sees half a file.
    public static func write<E: NpyElement>(_ array: NpyArray<E>, to url: URL) throws(NpyError) {
        // Array's buffer accessors rethrow untyped errors; the closure throws only NpyError.
        do {
            try array.values.withUnsafeBytes {
                try write(descr: E.npyDType.rawValue, shape: array.shape, data: $0, to: url)
            }
        } catch { throw error as! NpyError }
    }

    /// Writes strings as numpy's fixed-width unicode (`<U` n: n UTF-32LE code points each, the
    /// shorter ones padded with zeros), the way `np.array(list_of_str)` stores them; Milvus bulk
    /// insert reads VarChar fields from such files.
    public static func write(strings: [String], to url: URL) throws(NpyError) {
        let width = max(1, strings.map(\.unicodeScalars.count).max() ?? 1)
        var scalars = [UInt32](repeating: 0, count: strings.count * width)
        for (row, string) in strings.enumerated() {
            for (column, scalar) in string.unicodeScalars.enumerated() {
                scalars[row * width + column] = scalar.value.littleEndian
            }
        }
        do {
            try scalars.withUnsafeBytes { try write(descr: "<U\(width)", shape: [strings.count], data: $0, to: url) }
        } catch { throw error as! NpyError }
    }

    /// Reads a 1-D fixed-width unicode file (`<U` n) as strings, trailing zeros dropped. The
    /// header's shape and width are checked against the file's length before anything is read.
    public static func readStrings(_ url: URL) throws(NpyError) -> [String] {
        let path = url.path
        let (fd, header, available) = try openHeader(url)
        defer { close(fd) }
        guard header.descr.hasPrefix("<U"), let width = Int(header.descr.dropFirst(2)), width > 0, width < 1 << 20
        else {
            throw NpyError(path: path, reason: .wrongDType(found: header.descr, expected: "<U (unicode)"))
        }
        guard !header.fortranOrder else { throw NpyError(path: path, reason: .fortranOrder) }
        guard header.shape.count == 1 else {
            throw NpyError(path: path, reason: .wrongRank(found: header.shape.count, expected: 1))
        }
        let (expected, overflow) = header.shape[0].multipliedReportingOverflow(by: width * 4)
        guard !overflow, available >= expected else {
            throw NpyError(
                path: path, reason: .truncated(expectedBytes: overflow ? Int.max : expected, foundBytes: available))
        }
        guard available == expected else { throw NpyError(path: path, reason: .trailingBytes(available - expected)) }
        var data = [UInt8](repeating: 0, count: expected)
        guard data.withUnsafeMutableBytes({ FileIO.read(fd, into: $0) }) == expected else {
            throw NpyError(path: path, reason: .truncated(expectedBytes: expected, foundBytes: 0))
        }
        var strings: [String] = []
        strings.reserveCapacity(header.shape[0])
        for row in 0..<header.shape[0] {
            var text = String.UnicodeScalarView()
            for column in 0..<width {
                let at = (row * width + column) * 4
                let value =
                    UInt32(data[at]) | UInt32(data[at + 1]) << 8 | UInt32(data[at + 2]) << 16 | UInt32(data[at + 3])
                    << 24
                if value == 0 { break }
                guard let scalar = Unicode.Scalar(value) else {
                    throw NpyError(
                        path: path, reason: .malformedHeader("row \(row) holds \(value), which is not a code point"))
                }
                text.append(scalar)
            }
            strings.append(String(text))
        }
        return strings
    }

    private static func write(
        descr: String, shape dimensions: [Int], data: UnsafeRawBufferPointer, to url: URL
    ) throws(NpyError) {
        let path = url.path
        let shape =
            dimensions.count == 1
            ? "(\(dimensions[0]),)" : "(" + dimensions.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        // Pad with spaces so the data starts on a 64-byte boundary, ending the header with \n.
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let headerLength = dict.utf8.count
        var bytes = magic + [1, 0, UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
        bytes += Array(dict.utf8)

        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw NpyError(path: path, reason: .cannotOpen(errno: errno)) }
        var ok = bytes.withUnsafeBytes { FileIO.write(fd, $0) }
        if ok { ok = FileIO.write(fd, data) }
        let writeErrno = errno
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let code = ok ? errno : writeErrno
            unlink(temporary)
            throw NpyError(path: path, reason: .writeFailed(errno: code))
        }
    }
}

/// The header is a Python dict literal, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
/// This parses exactly that grammar: string keys; string, boolean and integer-tuple values.
struct NpyHeader {
    struct ParseError: Error { let message: String }

    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    init(parsing text: String) throws(ParseError) {
        var scanner = Scanner(Array(text.utf8))
        var descr: String?
        var fortran: Bool?
        var shape: [Int]?
        try scanner.expect(UInt8(ascii: "{"))
        while true {
            scanner.skipSpace()
            if scanner.take(UInt8(ascii: "}")) { break }
            let key = try scanner.string()
            scanner.skipSpace()
            try scanner.expect(UInt8(ascii: ":"))
            scanner.skipSpace()
            switch key {
            case "descr": descr = try scanner.string()
            case "fortran_order": fortran = try scanner.boolean()
            case "shape": shape = try scanner.tuple()
            default: throw ParseError(message: "unknown key '\(key)'")
            }
            scanner.skipSpace()
            if !scanner.take(UInt8(ascii: ",")) {
                scanner.skipSpace()
                try scanner.expect(UInt8(ascii: "}"))
                break
            }
        }
        guard let descr, let fortran, let shape else {
            throw ParseError(message: "descr, fortran_order and shape are all required")
        }
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product < 1 << 48 else { throw ParseError(message: "shape \(shape) is too large") }
            count = product
        }
        self.descr = descr
        self.fortranOrder = fortran
        self.shape = shape
    }

    private struct Scanner {
        let bytes: [UInt8]
        var at = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() { while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A { at += 1 } }
        mutating func take(_ c: UInt8) -> Bool {
            guard at < bytes.count, bytes[at] == c else { return false }
            at += 1
            return true
        }
        mutating func expect(_ c: UInt8) throws(ParseError) {
            guard take(c) else { throw ParseError(message: "expected '\(Character(UnicodeScalar(c)))' at byte \(at)") }
        }
        mutating func string() throws(ParseError) -> String {
            let quote = at < bytes.count ? bytes[at] : 0
            guard quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else {
                throw ParseError(message: "expected a quoted string at byte \(at)")
            }
            at += 1
            let start = at
            while at < bytes.count, bytes[at] != quote { at += 1 }
            guard at < bytes.count else { throw ParseError(message: "unterminated string") }
            defer { at += 1 }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        }
        mutating func boolean() throws(ParseError) -> Bool {
            for (word, value) in [("True", true), ("False", false)] where bytes[at...].starts(with: word.utf8) {
                at += word.utf8.count
                return value
            }
            throw ParseError(message: "expected True or False at byte \(at)")
        }
        mutating func tuple() throws(ParseError) -> [Int] {
            try expect(UInt8(ascii: "("))
            var values: [Int] = []
            while true {
                skipSpace()
                if take(UInt8(ascii: ")")) { return values }
                let start = at
                while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
                guard at > start, at - start < 19, let value = Int(String(decoding: bytes[start..<at], as: UTF8.self))
                else {
                    throw ParseError(message: "expected a dimension at byte \(start)")
                }
                values.append(value)
                skipSpace()
                if !take(UInt8(ascii: ",")) {
                    skipSpace()
                    try expect(UInt8(ascii: ")"))
                    return values
                }
            }
        }
    }
}
