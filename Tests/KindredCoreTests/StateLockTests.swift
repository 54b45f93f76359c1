import Foundation
import KindredCore
import KindredTestSupport
import Testing

/// One writer per state directory: a second taker is refused, and told who holds it.
@Suite struct StateLockTests {
    @Test func aSecondWriterIsRefusedUntilTheFirstLetsGo() throws {
        let root = temporaryDirectory("state-lock")
        defer { try? FileManager.default.removeItem(at: root) }
        let paths = StatePaths(root: root.appendingPathComponent("state"))
        do {
            let first = try StateLock.acquire(paths, holder: "kindredd")
            #expect(FileManager.default.fileExists(atPath: paths.root.path), "the directory is made")
            // flock locks belong to an open file, so a second open in this same process conflicts
            // as another process's would.
            withExtendedLifetime(first) {
                #expect {
                    try StateLock.acquire(paths, holder: "kindred store import")
                } throws: { error in
                    guard let error = error as? StateLockError else { return false }
                    return error.isHeld && "\(error)".contains("(kindredd, pid \(getpid()))")
                        && "\(error)".contains("stop it first")
                }
            }
        }
        // The first lock is gone with its holder.
        let second = try StateLock.acquire(paths, holder: "kindred store import")
        let text = try String(contentsOf: second.url, encoding: .utf8)
        #expect(text == "kindred store import, pid \(getpid())\n", "the holder's line replaces the last one's")
    }

    @Test func theHoldersLineIsShownAsText() throws {
        let root = temporaryDirectory("state-lock-text")
        defer { try? FileManager.default.removeItem(at: root) }
        let paths = StatePaths(root: root.appendingPathComponent("state"))
        let held = try StateLock.acquire(paths, holder: "kindredd")
        // Whoever can write the directory can write the file: what it says is shown, not obeyed.
        try Data("evil\u{1B}[2J name\r\nsecond line".utf8 + [UInt8](repeating: 0x41, count: 500)).write(to: held.url)
        withExtendedLifetime(held) {
            #expect {
                try StateLock.acquire(paths, holder: "kindredd")
            } throws: { error in
                let text = "\(error)"
                return !text.contains("\u{1B}") && !text.contains("\r") && !text.contains("second line")
                    && text.contains("evil")
            }
        }
    }

    @Test func aFileThatIsNotALockIsAnError() throws {
        let root = temporaryDirectory("state-lock-link")
        defer { try? FileManager.default.removeItem(at: root) }
        let paths = StatePaths(root: root.appendingPathComponent("state"))
        try paths.create()
        // A symbolic link planted in its place is not followed.
        try FileManager.default.createSymbolicLink(
            at: paths.writerLock, withDestinationURL: root.appendingPathComponent("elsewhere"))
        #expect {
            try StateLock.acquire(paths, holder: "kindredd")
        } throws: { error in
            guard let error = error as? StateLockError else { return false }
            return !error.isHeld && "\(error)".contains("cannot open it")
        }
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("elsewhere").path))
    }
}
