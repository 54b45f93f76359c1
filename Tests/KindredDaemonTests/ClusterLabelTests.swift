import Foundation
import KindredCore
import KindredEngine
import KindredTestSupport
import Testing

/// Clusters that name themselves, on the demo collection (real clip art from Debian's
/// openclipart-png, as `make demo` builds it): every label's folder term is the dominant top
/// folder of the cluster's members, and the rest names ImageNet classes.
@Suite(.serialized) struct ClusterLabelTests {
    let root = temporaryDirectory("labels")

    /// The demo collection: the first `perFolder` files of each folder of openclipart-png, sorted
    /// by path (scripts/demo.sh's rule).
    func demoCollection(in directory: URL, perFolder: Int = 8) throws -> Int {
        let source = kindredCache.appendingPathComponent("openclipart/usr/share/openclipart/png")
        guard FileManager.default.fileExists(atPath: source.path) else {
            Issue.record("no openclipart-png in \(source.path): run `scripts/setup.sh testdata` (make test does)")
            return 0
        }
        let files = (FileManager.default.enumerator(atPath: source.path)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".png") }.sorted()
        var taken: [String: Int] = [:]
        var count = 0
        for relative in files {
            let folder = (relative as NSString).deletingLastPathComponent
            guard taken[folder, default: 0] < perFolder else { continue }
            let from = source.appendingPathComponent(relative)
            // Regular files only, as the package's symbolic links repeat files under a second name.
            guard (try? from.resourceValues(forKeys: [.isSymbolicLinkKey]).isSymbolicLink) == false else { continue }
            taken[folder, default: 0] += 1
            let to = directory.appendingPathComponent(relative)
            try FileManager.default.createDirectory(
                at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: from, to: to)
            count += 1
        }
        return count
    }

    /// A path is cut at the byte "/", as the file system cuts it. To Swift, "/" followed by a
    /// combining mark (U+0301) is one Character, so splitting at the Character "/" read
    /// "fruit/\u{301}a.png" as one component: a file in a folder, seen as a file in the root,
    /// and its folder lost from the cluster's label.
    @Test func topFoldersAreCutAtTheByteSlash() throws {
        let labeler = ClusterLabeler(head: nil, roots: RootSet([try CollectionPath("/art")]))
        #expect(labeler.topFolder(of: "/art/fruit/\u{301}a.png") == "fruit")
        #expect(labeler.topFolder(of: "/art/\u{301}toiles/a.png") == "\u{301}toiles")
        #expect(labeler.topFolder(of: "/art/still_life-fruit/b/c.png") == "still life fruit")
        #expect(labeler.topFolder(of: "/art/a.png") == nil)  // directly in the root
        #expect(labeler.topFolder(of: "/elsewhere/x/a.png") == nil)  // outside every root
    }

    @Test func labelsNameTheDominantFolderAndTheClasses() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let art = root.appendingPathComponent("art")
        let total = try demoCollection(in: art)
        try #require(total > 100)
        let config = root.appendingPathComponent("kindred.toml")
        try Data("[refit]\nschedule = \"\"\nafter_new_fraction = 0\n".utf8).write(to: config)
        let daemon = try DaemonProcess(state: root.appendingPathComponent("state"), roots: [art])
        try daemon.start(extra: ["--config", config.path])
        try daemon.waitUntilIdle(indexed: total, failed: 0)
        _ = try daemon.ask("REFIT wait")

        let clusters = try daemon.ask("CLUSTERS").dropFirst().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        try #require(clusters.count >= 2, "\(clusters)")
        let folders = Set(
            try FileManager.default.contentsOfDirectory(atPath: art.path).map {
                $0.replacing("_", with: " ").replacing("-", with: " ")
            })
        var withFolder = 0
        for row in clusters {
            let (id, label) = (row[0], row[1])
            let members = try daemon.ask("CLUSTER \(id) limit=100000").dropFirst().map {
                String($0.split(separator: "\t")[2].dropFirst(art.path.count + 1).prefix { $0 != "/" })
                    .replacing("_", with: " ").replacing("-", with: " ")
            }
            var counts: [String: Int] = [:]
            for folder in members { counts[folder, default: 0] += 1 }
            let top = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }!
            let dominant = Double(top.value) * 3 >= Double(members.count) ? top.key : nil
            print("cluster \(id): \(members.count) members, label '\(label)', top folder \(top.key) × \(top.value)")
            let parts = label.components(separatedBy: " · ")
            if let dominant {
                #expect(parts.first == dominant, "cluster \(id): '\(label)' should start with \(dominant)")
                withFolder += 1
            } else {
                #expect(!folders.contains(parts.first ?? ""), "cluster \(id): '\(label)' names no folder")
            }
            // The classes part: names of ImageNet classes from the installed list.
            let classes = parts.count == 2 ? parts[1] : (dominant == nil ? parts[0] : "")
            #expect(
                !classes.isEmpty
                    && classes.components(separatedBy: ", ").allSatisfy { imagenetClassNamesFile.contains("\t\($0)\n") },
                "cluster \(id): '\(label)'")
        }
        #expect(withFolder >= 1, "some cluster is mostly one folder")
    }
}
