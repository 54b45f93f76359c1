import Foundation
import KindredTestSupport
import Testing

/// The watcher's resource faults through a real kindredd: the inotify watch limit (lowered for
/// kindredd alone, in a user namespace of its own) and the kernel's event queue overflowing.
@Suite(.serialized) struct WatchFaultTests {
    let root = temporaryDirectory("watchfault")

    func image(_ seed: UInt64, at url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(Fixtures.jpeg(composition(width: 200, height: 150, seed: seed))).write(to: url)
    }

    /// Unprivileged user namespaces carry their own inotify limits (/proc/sys/user/*): the test
    /// lowers max_inotify_watches for kindredd without touching the machine's.
    static let userNamespaces: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = [
            "unshare", "--user", "--map-root-user", "sh", "-c", "echo 3 > /proc/sys/user/max_inotify_watches",
        ]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()

    @Test(.enabled(if: userNamespaces, "needs unprivileged user namespaces (unshare --user)"))
    func pastTheWatchLimitPollingStillSeesChanges() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        let folders = (0..<6).map { art.appendingPathComponent("folder-\($0)") }
        for (i, folder) in folders.enumerated() {
            try image(UInt64(i + 1), at: folder.appendingPathComponent("first.jpg"))
        }
        let config = root.appendingPathComponent("kindred.toml")
        try Data("[watch]\npoll_seconds = 1\n".utf8).write(to: config)
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        // Three watches: the root and two folders; the other four are polled.
        daemon.launcher = [
            "unshare", "--user", "--map-root-user", "sh", "-c",
            #"echo 3 > /proc/sys/user/max_inotify_watches && exec "$0" "$@""#,
        ]
        try daemon.start(extra: ["--config", config.path])
        try daemon.waitUntilIdle(indexed: 6)
        try daemon.waitFor("four polled directories in STATUS", seconds: 10) {
            try daemon.status()["polled_dirs"] == "4"
        }
        #expect(daemon.logText.contains("watch limit"))

        // New, changed and deleted files in every folder, watched or not, are all seen.
        for (i, folder) in folders.enumerated() {
            try image(UInt64(100 + i), at: folder.appendingPathComponent("second.jpg"))
        }
        try daemon.waitUntilIdle(indexed: 12)
        for folder in folders { try FileManager.default.removeItem(at: folder.appendingPathComponent("first.jpg")) }
        try daemon.waitUntilIdle(indexed: 6)
        let late = folders[5].appendingPathComponent("second.jpg")
        let answer = try daemon.ask(#"SIMILAR "\#(late.path)" k=1"#)
        #expect(answer.first == "OK 1", "\(answer)")
        #expect(try daemon.stop().status == 0)
    }

    @Test func anEventQueueOverflowRescansAndMissesNothing() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        for i in 0..<4 { try image(UInt64(i + 1), at: art.appendingPathComponent("kept-\(i).jpg")) }
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        let scratch = art.appendingPathComponent("scratch")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try daemon.start()
        try daemon.waitUntilIdle(indexed: 4)
        #expect(try daemon.status()["inotify_overflows"] == "0")

        // While kindredd is stopped, more events than the kernel queues (16,384 by default):
        // 9,000 scratch files created and deleted, and among them real changes.
        let pid = daemon.process!.processIdentifier
        kill(pid, SIGSTOP)
        let limit =
            Int(
                (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 16384
        for i in 0..<(limit / 2 + 1000) {
            let file = scratch.appendingPathComponent("\(i).txt")
            FileManager.default.createFile(atPath: file.path, contents: nil)
            try FileManager.default.removeItem(at: file)
        }
        try image(50, at: art.appendingPathComponent("added-while-flooded.jpg"))
        try image(51, at: scratch.appendingPathComponent("nested-new.jpg"))
        try FileManager.default.removeItem(at: art.appendingPathComponent("kept-0.jpg"))
        kill(pid, SIGCONT)

        try daemon.waitFor("the overflow to be noticed") { try daemon.status()["inotify_overflows"] == "1" }
        try daemon.waitUntilIdle(indexed: 5)
        for name in ["added-while-flooded.jpg", "scratch/nested-new.jpg"] {
            let path = art.appendingPathComponent(name).path
            #expect(try daemon.ask(#"SIMILAR "\#(path)" k=1"#).first == "OK 1", "\(name) indexed after the rescan")
        }
        #expect(
            try daemon.ask(#"SIMILAR "\#(art.appendingPathComponent("kept-0.jpg").path)" k=1"#).first?.hasPrefix("ERR")
                == true)
        #expect(daemon.logText.contains("overflowed"))
        #expect(try daemon.stop().status == 0)
    }
}
