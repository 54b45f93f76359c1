import Foundation
import KindredCore
import KindredTestSupport
import Testing

/// One kindredd a state directory and a socket: a second one started by mistake (by hand beside
/// systemd's, or twice from a script) is refused before it opens anything, and a command that
/// changes the store waits for kindredd to stop.
@Suite struct OneWriterTests {
    @Test func aSecondKindreddOnTheStateOrTheSocketIsRefused() throws {
        let root = temporaryDirectory("one-writer")
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        try FileManager.default.createDirectory(at: art, withIntermediateDirectories: true)
        let first = try DaemonProcess(state: root.appendingPathComponent("a/state"), roots: [art])
        try first.start()
        defer { _ = try? first.stop() }
        let pid = try #require(first.process).processIdentifier

        // A second kindredd exits at once with the reason; one that started would be killed at
        // the timeout and fail the test.
        func secondKindredd(state: URL, socket: String) throws -> (status: Int32, errors: String) {
            try runCapturing(
                "kindredd", ["--state", state.path, "--socket", socket, "--watch", art.path], timeout: 60)
        }
        // The same state directory: refused by the state's lock, before anything in it is opened.
        let sameState = try secondKindredd(state: first.state, socket: root.appendingPathComponent("other.sock").path)
        #expect(sameState.status != 0, "\(sameState)")
        #expect(
            sameState.errors.contains(
                "another process writes this state directory (kindredd, pid \(pid)); stop it first"),
            "\(sameState)")
        // Another state directory on the same socket: refused, where it used to unlink the first
        // one's socket and take the path.
        let other = try DaemonProcess(state: root.appendingPathComponent("b/state"), roots: [art])
        let sameSocket = try secondKindredd(state: other.state, socket: first.socket)
        #expect(sameSocket.status != 0, "\(sameSocket)")
        #expect(sameSocket.errors.contains("another kindredd (pid \(pid)) answers on \(first.socket)"), "\(sameSocket)")
        #expect(try first.ask("PING") == ["OK 1", "pong"], "the first keeps its socket")

        // A command that changes the store is refused while kindredd runs…
        let refused = try runCapturing("kindred", ["store", "drop-space", "--state", first.state.path, "cnn"])
        #expect(refused.status != 0 && refused.errors.contains("(kindredd, pid \(pid)); stop it first"), "\(refused)")
        // …and runs once it has stopped: the lock goes with the process.
        #expect(try first.stop().status == 0)
        let after = try runCapturing("kindred", ["store", "drop-space", "--state", first.state.path, "no-such-space"])
        #expect(after.status != 0 && after.errors.contains("no space named no-such-space"), "\(after)")
    }
}
