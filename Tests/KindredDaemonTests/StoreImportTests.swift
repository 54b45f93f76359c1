import Foundation
import KindredCore
import KindredStore
import KindredTestSupport
import Testing

/// `kindred store import` takes vectors computed elsewhere: each row is checked before anything is
/// written, so a bad one imports nothing and says which row, column and file it was.
@Suite struct StoreImportTests {
    /// Runs `kindred store import` into `state`; its exit status and standard error.
    func storeImport(_ state: URL, space: String, rows: [[Float]], in directory: URL) throws -> (Int32, String) {
        let input = directory.appendingPathComponent("x-\(rows.count)-\(rows.first?.count ?? 0).npy")
        try Npy.write(
            Matrix(rows: rows.count, columns: rows[0].count, storage: rows.flatMap { $0 }), to: input)
        let paths = directory.appendingPathComponent("paths.txt")
        try (0..<rows.count).map { "/art/picture-\($0).png" }.joined(separator: "\n").write(
            to: paths, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent("kindred")
        process.arguments = [
            "store", "import", "--state", state.path, "--space", space, "--in", input.path, "--paths", paths.path,
            "--batch", "1",
        ]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    func storedCount(_ state: URL, space: String) throws -> Int? {
        let store = try VectorStore(
            directory: StatePaths(root: state).vectors, spaces: [], includeRegistered: true, logger: testLogger)
        guard store.spaces[space] != nil else { return nil }
        return try store.readMatrix(space: space).ids.count
    }

    /// Registers `space` in the state's store, as kindredd does at its first start.
    func registerSpace(_ state: URL, _ space: VectorSpace) throws {
        _ = try VectorStore(
            directory: StatePaths(root: state).vectors, spaces: [space], includeRegistered: true, logger: testLogger)
    }

    @Test func aRowTheSpaceCannotHoldImportsNothing() throws {
        let directory = temporaryDirectory("import")
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state")
        var rows: [[Float]] = (0..<4).map { row in (0..<8).map { Float(row + $0) / 10 } }
        rows[2][3] = .nan
        let (status, errors) = try storeImport(state, space: "v", rows: rows, in: directory)
        #expect(status != 0)
        #expect(errors.contains("row 2 (/art/picture-2.png), column 3: nan"), "\(errors)")
        #expect(try storedCount(state, space: "v") == nil, "not even the space was made")

        // Good rows import; then an existing float16 space refuses what float16 cannot hold, and
        // a matrix of another width, before writing anything.
        rows[2][3] = 0.5
        #expect(try storeImport(state, space: "v", rows: rows, in: directory).0 == 0)
        #expect(try storedCount(state, space: "v") == 4)
        rows[1][0] = 1e5
        try registerSpace(state, VectorSpace(name: "cnn", dimension: 1280, element: .float16))
        let (f16Status, f16Errors) = try storeImport(
            state, space: "cnn",
            rows: [[Float](repeating: 0.1, count: 1280)] + [rows[1] + [Float](repeating: 0, count: 1272)], in: directory
        )
        #expect(f16Status != 0)
        #expect(
            f16Errors.contains("row 1 (/art/picture-1.png), column 0: 100000.0; space cnn stores float16"),
            "\(f16Errors)")
        let (wideStatus, wideErrors) = try storeImport(
            state, space: "v", rows: [[Float](repeating: 1, count: 9)], in: directory)
        #expect(wideStatus != 0)
        #expect(wideErrors.contains("has 9 columns; space v holds 8"), "\(wideErrors)")
        #expect(try storedCount(state, space: "v") == 4)
    }
}
