import Foundation
import KindredWatch
import Logging
import Testing

@Suite struct InotifyWatcherTests {
    func events(_ watcher: InotifyWatcher, until count: Int) -> [FileEvent] {
        var all: [FileEvent] = []
        let deadline = Date().addingTimeInterval(5)
        while all.count < count, Date() < deadline { all += watcher.next(timeout: 0.2) }
        return all
    }

    @Test func seesNewChangedRenamedAndDeletedFilesRecursively() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kindred-watch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: root + "/a/b/existing.png"))
        let watcher = try InotifyWatcher(logger: Logger(label: "watch.tests"))
        #expect(watcher.add(root: root) == [root + "/a/b/existing.png"])
        #expect(watcher.watchedDirectories == 3)

        try Data("new".utf8).write(to: URL(fileURLWithPath: root + "/a/new.png"))
        try Data("hidden".utf8).write(to: URL(fileURLWithPath: root + "/a/.hidden.png"))
        #expect(events(watcher, until: 1) == [.changed(root + "/a/new.png")])

        try FileManager.default.moveItem(atPath: root + "/a/new.png", toPath: root + "/a/b/renamed.png")
        #expect(events(watcher, until: 1) == [.renamed(from: root + "/a/new.png", to: root + "/a/b/renamed.png")])

        // A new subdirectory is watched as it appears, and files written into it are seen.
        try FileManager.default.createDirectory(atPath: root + "/c", withIntermediateDirectories: true)
        _ = events(watcher, until: 0)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/c/inside.png"))
        let inside = events(watcher, until: 1)
        #expect(inside.contains(.changed(root + "/c/inside.png")))

        try FileManager.default.removeItem(atPath: root + "/a/b/existing.png")
        #expect(events(watcher, until: 1) == [.removed(root + "/a/b/existing.png")])

        // Moving a directory out of the roots removes everything under it.
        let outside = root + "-outside"
        try FileManager.default.moveItem(atPath: root + "/c", toPath: outside)
        #expect(events(watcher, until: 1) == [.removed(root + "/c")])
    }
}
