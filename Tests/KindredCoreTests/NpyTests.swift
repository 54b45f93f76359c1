import Foundation
import KindredCore
import KindredTestSupport
import Testing

@Suite struct NpyTests {
    let directory: URL = {
        let url = temporaryDirectory("npy")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    @Test func float32MatrixRoundTrips() throws {
        let matrix = Matrix(rows: 3, columns: 5, storage: (0..<15).map { Float($0) * 0.5 - 2 })
        let url = directory.appendingPathComponent("m.npy")
        try Npy.write(matrix, to: url)
        #expect(try Npy.readMatrix(url) == matrix)
        // The data starts on a 64-byte boundary, as numpy itself writes it.
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        #expect((size - 15 * 4) % 64 == 0)
    }

    @Test func int32RoundTripsWithAnyRank() throws {
        for shape in [[7], [2, 3], [2, 1, 3, 2]] {
            let values = (0..<shape.reduce(1, *)).map { Int32($0) - 5 }
            let url = directory.appendingPathComponent("i\(shape.count).npy")
            try Npy.write(NpyArray(shape: shape, values: values), to: url)
            let back = try Npy.read(url, as: Int32.self)
            #expect(back.shape == shape)
            #expect(back.values == values)
        }
    }

    @Test func int64AndUnicodeStringsRoundTrip() throws {
        let ids: [Int64] = [1, 9_223_372_036_854_775_807, -1]
        let url = directory.appendingPathComponent("id.npy")
        try Npy.write(NpyArray(shape: [3], values: ids), to: url)
        #expect(try Npy.read(url, as: Int64.self).values == ids)

        let paths = ["/art/a.jpg", "", "/art/Musée d'Orsay/été.png", "/tmp/🖼 x\ty", "a\u{0}b"]
        let strings = directory.appendingPathComponent("path.npy")
        try Npy.write(strings: paths, to: strings)
        let bytes = try Data(contentsOf: strings)
        // np.array(paths) would store '<U25': the longest path's code points, UTF-32LE, zero-padded.
        let width = paths.map(\.unicodeScalars.count).max()!
        #expect(String(decoding: bytes.prefix(128), as: UTF8.self).contains("'descr': '<U\(width)'"))
        #expect(bytes.count == 128 + paths.count * width * 4)
        // A NUL inside a string ends it, as in numpy; everything else comes back as written.
        #expect(try Npy.readStrings(strings) == ["/art/a.jpg", "", "/art/Musée d'Orsay/été.png", "/tmp/🖼 x\ty", "a"])

        // A surrogate is not a code point: refused with the reason, not crashed on.
        var hostile = Array(bytes)
        hostile[128] = 0x00; hostile[129] = 0xD8; hostile[130] = 0; hostile[131] = 0
        try Data(hostile).write(to: strings)
        #expect(throws: NpyError.self) { try Npy.readStrings(strings) }
        try Data(bytes.dropLast(4)).write(to: strings)
        #expect(throws: NpyError.self) { try Npy.readStrings(strings) }
        #expect(throws: NpyError.self) { try Npy.readStrings(url) }  // an int64 file is not strings
        // A header claiming a trillion strings is refused from the file's length, before allocating.
        var claim = "{'descr': '<U10', 'fortran_order': False, 'shape': (1000000000000,), }"
        claim += String(repeating: " ", count: 128 - 10 - claim.utf8.count - 1) + "\n"
        try Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(claim.utf8.count), 0] + Array(claim.utf8) + [0, 0, 0, 0])
            .write(to: strings)
        #expect(throws: NpyError.self) { try Npy.readStrings(strings) }
    }

    @Test func readsWhatNumpyWrites() throws {
        // Bytes of np.save(f, np.array([[1.5, -2.0]], dtype=np.float32)) with numpy 2.x.
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }"
        header += String(repeating: " ", count: 128 - 10 - header.utf8.count - 1) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
        for value: Float in [1.5, -2] { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        let url = directory.appendingPathComponent("np.npy")
        try Data(bytes).write(to: url)
        #expect(try Npy.readMatrix(url) == Matrix(rows: 1, columns: 2, storage: [1.5, -2]))
    }

    @Test func rejectsBadFilesWithTheReason() throws {
        func written(_ bytes: [UInt8]) throws -> URL {
            let url = directory.appendingPathComponent(UUID().uuidString + ".npy")
            try Data(bytes).write(to: url)
            return url
        }
        func header(_ dict: String) -> [UInt8] {
            [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(dict.utf8.count), 0] + Array(dict.utf8)
        }
        let cases: [([UInt8], NpyError.Reason)] = [
            (Array("hello world!".utf8), .notNpy),
            ([], .notNpy),
            ([0x93] + Array("NUMPY".utf8) + [9, 0, 4, 0] + Array("{}  ".utf8), .unsupportedVersion(major: 9)),
            (
                header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }") + [UInt8](repeating: 0, count: 8),
                .wrongDType(found: "<f8", expected: "<f4")
            ),
            (header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }") + [0, 0, 0, 0], .fortranOrder),
            (
                header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }") + [0, 0, 0, 0],
                .truncated(expectedBytes: 16, foundBytes: 4)
            ),
            (header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }") + [0, 0, 0, 0, 9], .trailingBytes(1)),
        ]
        for (bytes, reason) in cases {
            let url = try written(bytes)
            #expect(throws: NpyError(path: url.path, reason: reason)) { try Npy.read(url, as: Float.self) }
        }
        for dict in [
            "{'descr': '<f4', 'shape': (1,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "not a dict at all",
        ] {
            let url = try written(header(dict))
            #expect {
                try Npy.read(url, as: Float.self)
            } throws: { error in
                guard case .malformedHeader = (error as? NpyError)?.reason else { return false }
                return true
            }
        }
        let missing = directory.appendingPathComponent("missing.npy")
        #expect(throws: NpyError(path: missing.path, reason: .cannotOpen(errno: ENOENT))) {
            try Npy.read(missing, as: Float.self)
        }
    }

    @Test func threeDimensionalFileIsNotAMatrix() throws {
        let url = directory.appendingPathComponent("t.npy")
        try Npy.write(NpyArray(shape: [1, 1, 2], values: [Float(1), 2]), to: url)
        #expect(throws: NpyError(path: url.path, reason: .wrongRank(found: 3, expected: 2))) { try Npy.readMatrix(url) }
    }
}

@Suite struct StatePathsTests {
    @Test func precedence() {
        #expect(StatePaths.resolve(explicit: "/x", environment: ["STATE_DIRECTORY": "/s"]).root.path == "/x")
        #expect(
            StatePaths.resolve(explicit: nil, environment: ["STATE_DIRECTORY": "/s:/t", "XDG_STATE_HOME": "/x"]).root
                .path == "/s")
        #expect(
            StatePaths.resolve(explicit: nil, environment: ["XDG_STATE_HOME": "/x", "HOME": "/h"]).root.path
                == "/x/kindred")
        #expect(StatePaths.resolve(explicit: nil, environment: ["HOME": "/h"]).root.path == "/h/.local/state/kindred")
    }
}

@Suite struct MatrixTests {
    @Test func rowsAreScaledToUnitLengthAndZeroRowsStayZero() {
        var values: [Float] = [3, 4, 0, 0, 1, 0]
        normalizeRows(&values, dimension: 2)
        #expect(values == [0.6, 0.8, 0, 0, 1, 0])
    }
}
