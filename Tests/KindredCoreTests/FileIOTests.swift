import Foundation
import KindredCore
import KindredTestSupport
import Testing

/// `FileIO.readWhole`: a file is read whole only if it fits its cap, and nothing larger than the
/// cap is ever held, whether or not `stat` can tell the size.
@Suite struct FileIOTests {
    @Test func aFileIsReadWholeUpToItsCapAndRefusedPastIt() throws {
        let directory = temporaryDirectory("fileio")
        defer { try? FileManager.default.removeItem(at: directory) }
        func file(_ count: Int) throws -> String {
            let url = directory.appendingPathComponent("f\(count)")
            try Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: url)
            return url.path
        }
        for count in [0, 1, 1000, 200_000] {
            let bytes = try FileIO.readWhole(try file(count), limit: 200_000)
            #expect(bytes == (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        }
        let over = try file(200_001)
        #expect(throws: FileIO.ReadError(path: over, reason: .tooLarge(limit: 200_000))) {
            try FileIO.readWhole(over, limit: 200_000)
        }
        let missing = directory.appendingPathComponent("none").path
        #expect(throws: FileIO.ReadError(path: missing, reason: .cannotOpen(errno: ENOENT))) {
            try FileIO.readWhole(missing, limit: 10)
        }
    }

    /// A device (stat says 0 bytes) is read in steps and refused at the cap, never exhausting memory.
    @Test func aFileWhoseSizeStatCannotTellIsStillCapped() throws {
        #expect(throws: FileIO.ReadError(path: "/dev/zero", reason: .tooLarge(limit: 300_000))) {
            try FileIO.readWhole("/dev/zero", limit: 300_000)
        }
        #expect(try FileIO.readWhole("/dev/null", limit: 10).isEmpty)
        // A pipe that ends below the cap is read whole.
        let pipe = Pipe()
        let sent = [UInt8]((0..<150_000).map { UInt8(truncatingIfNeeded: $0) })
        let writer = Thread {
            pipe.fileHandleForWriting.write(Data(sent))
            try? pipe.fileHandleForWriting.close()
        }
        writer.start()
        #expect(
            try FileIO.readWhole("/proc/self/fd/\(pipe.fileHandleForReading.fileDescriptor)", limit: 200_000) == sent)
    }
}
