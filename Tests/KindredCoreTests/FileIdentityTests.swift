import Foundation
import KindredCore
import KindredTestSupport
import Testing

@Suite struct FileIdentityTests {
    @Test func linksGroupWithTheirTargetAndEverythingElseStandsAlone() throws {
        let directory = temporaryDirectory("identity")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try Data("a".utf8).write(to: URL(fileURLWithPath: path("a")))
        // Same bytes, another file: content alone does not make two paths one file.
        try Data("a".utf8).write(to: URL(fileURLWithPath: path("copy")))
        try FileManager.default.createSymbolicLink(atPath: path("soft"), withDestinationPath: "a")
        try FileManager.default.linkItem(atPath: path("a"), toPath: path("hard"))
        try FileManager.default.createSymbolicLink(atPath: path("chain"), withDestinationPath: path("soft"))
        try FileManager.default.createSymbolicLink(atPath: path("dangling"), withDestinationPath: "nowhere")

        let paths = ["copy", "soft", "missing", "a", "hard", "dangling", "chain", "missing"].map(path)
        let (first, group) = FileIdentity.group(paths)
        // copy; soft (= a, hard, chain); missing; dangling; missing again (each unstat-able path alone)
        #expect(first == [0, 1, 2, 5, 7])
        #expect(group == [0, 1, 2, 1, 1, 3, 1, 4])
        #expect(FileIdentity(path: path("soft")) == FileIdentity(path: path("hard")))
        #expect(FileIdentity(path: path("dangling")) == nil)
    }
}
