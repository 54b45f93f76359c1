import Foundation
import KindredCore
import KindredStore
import KindredTestSupport
import Testing

/// A writer killed with SIGKILL mid-transaction leaves the last committed state intact.
@Suite struct CrashTests {
    @Test func killedWriterLosesOnlyItsOpenTransaction() throws {
        let directory = temporaryDirectory("crash")
        let dimension = 256, batch = 50
        var lastReported: UInt64 = 0
        for round in 0..<5 {
            let writer = Process()
            writer.executableURL = productsDirectory.appendingPathComponent("kindred-store-writer")
            // A small map, so some kills land during growth too.
            writer.arguments = [directory.path, "\(dimension)", "\(batch)", "\(256 << 10)"]
            let output = Pipe()
            writer.standardOutput = output
            try writer.run()
            // Let it commit a few batches, then kill it at a moment it does not choose.
            let reader = output.fileHandleForReading
            var seen = ""
            while seen.components(separatedBy: "\n").count < 4 + round * 3 {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            usleep(UInt32.random(in: 0...20_000))
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            seen += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
            let reported = seen.split(separator: "\n").compactMap {
                $0.split(separator: " ").last.flatMap { UInt64($0) }
            }
            lastReported = reported.last ?? lastReported
            #expect(writer.terminationReason == .uncaughtSignal)

            let store = try VectorStore(
                directory: directory, spaces: [VectorSpace(name: "crash", dimension: dimension)], logger: testLogger)
            let (ids, matrix) = try store.readMatrix(space: "crash")
            // Everything reported committed is there, whole batches only, every value intact.
            #expect(UInt64(ids.count) >= lastReported)
            #expect(ids.count % batch == 0)
            #expect(ids == (1...UInt64(ids.count)).map { ItemID($0) })
            for (row, id) in ids.enumerated() where row % 7 == 0 || row == ids.count - 1 {
                #expect(matrix.row(row) == (0..<dimension).map { Float(id.rawValue) + Float($0) / 1000 })
            }
        }
    }
}
