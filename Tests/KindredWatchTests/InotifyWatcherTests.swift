import Foundation
import KindredCore
import KindredTestSupport
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
        let root = temporaryDirectory("watch").path
        try FileManager.default.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: root + "/a/b/existing.png"))
        let watcher = try InotifyWatcher(logger: testLogger)
        #expect(watcher.add(root: try CollectionPath(root)).files == [root + "/a/b/existing.png"])
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

@Suite struct PathFilterTests {
    @Test func globsMatchNamesOrRelativePathsAndExclusionsWin() {
        let filter = PathFilter(include: ["*.jpg", "*.PNG"], exclude: ["thumbs", "drafts/*.jpg"])
        #expect(filter.accepts(file: "a/b/photo.JPG") && filter.accepts(file: "x.png"))
        #expect(!filter.accepts(file: "notes.txt"))
        #expect(
            !filter.accepts(file: "drafts/old.jpg") && filter.accepts(file: "drafts/sub/old.jpg"),
            "a pattern with / matches the whole relative path")
        #expect(!filter.accepts(directory: "a/thumbs") && filter.accepts(directory: "a/thumbnails"))
        #expect(!filter.accepts(file: ".cache/x.jpg") && !filter.accepts(file: ".x.jpg"))
        #expect(PathFilter(include: ["*.jpg"], hidden: true).accepts(file: ".cache/x.jpg"))
    }

    /// A name that begins with a combining mark makes its slash one Swift Character with it; the
    /// name is still its own component, as the kernel sees it.
    @Test func namesStartingWithACombiningMarkAreComponentsOfTheirOwn() {
        let filter = PathFilter(include: ["*.jpg"], exclude: ["\u{301}thumbs"])
        #expect(!filter.accepts(directory: "a/\u{301}thumbs") && filter.accepts(directory: "a/\u{301}thumbnails"))
        #expect(filter.accepts(file: "a/\u{301}b.jpg"))
        // A pattern with a slash before a combining mark is still a path pattern.
        let byPath = PathFilter(include: ["*.jpg"], exclude: ["a/\u{301}*"])
        #expect(!byPath.accepts(file: "a/\u{301}b.jpg") && byPath.accepts(file: "c/\u{301}b.jpg"))
    }

    @Test func scansApplyTheFilterAndFollowFileLinksOnlyWithinTheRoots() throws {
        let base = temporaryDirectory("filter").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let root = base + "/root", outside = base + "/outside"
        for directory in [root + "/keep", root + "/skip", outside] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        for file in [root + "/keep/a.jpg", root + "/keep/b.txt", root + "/skip/c.jpg", outside + "/d.jpg"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        }
        try FileManager.default.createSymbolicLink(
            atPath: root + "/inside-link.jpg", withDestinationPath: root + "/keep/a.jpg")
        try FileManager.default.createSymbolicLink(
            atPath: root + "/outside-link.jpg", withDestinationPath: outside + "/d.jpg")
        try FileManager.default.createSymbolicLink(atPath: root + "/loop", withDestinationPath: root)
        try FileManager.default.createSymbolicLink(
            atPath: root + "/dangling.jpg", withDestinationPath: root + "/nowhere.jpg")
        let watcher = try InotifyWatcher(filter: PathFilter(include: ["*.jpg"], exclude: ["skip"]), logger: testLogger)
        #expect(
            watcher.add(root: try CollectionPath(root)).files.sorted() == [
                root + "/inside-link.jpg", root + "/keep/a.jpg",
            ])

        // Events obey the same filter: only the .jpg in a kept directory is reported.
        for file in [root + "/keep/e.jpg", root + "/keep/f.txt", root + "/skip/g.jpg"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        }
        var seen: [FileEvent] = []
        let deadline = Date().addingTimeInterval(1)
        while Date() < deadline { seen += watcher.next(timeout: 0.1) }
        // The kernel reports a file's close-write when the last descriptor on it closes: a child
        // another test forks at that moment holds a copy of a.jpg's until it execs, so under a
        // loaded parallel run a.jpg's own close-write can arrive after the watch (seen once in
        // the suite). It passes the filter either way; what must not pass is f.txt and skip/.
        #expect(seen.filter { $0 != .changed(root + "/keep/a.jpg") } == [.changed(root + "/keep/e.jpg")])
    }

    /// A name that is not valid UTF-8 is skipped and reported (Kindred's paths are UTF-8 text in
    /// the catalog and the protocol); its neighbours are listed as usual.
    @Test func namesThatAreNotUTF8AreSkippedAndReported() throws {
        let root = temporaryDirectory("watch").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/good.jpg"))
        let bad = Array(root.utf8) + Array("/bad-".utf8) + [0xFF, 0xFE] + Array(".jpg".utf8) + [0]
        let fd = bad.withUnsafeBufferPointer {
            open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644)
        }
        #expect(fd >= 0)
        close(fd)
        let watcher = try InotifyWatcher(logger: testLogger)
        let listing = watcher.add(root: try CollectionPath(root))
        #expect(listing.files == [root + "/good.jpg"])
        #expect(listing.skippedNames.count == 1 && listing.skippedNames[0].hasPrefix(root + "/bad-"))
        try? FileManager.default.removeItem(atPath: root)
    }
}
