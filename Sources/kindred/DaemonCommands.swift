import ArgumentParser
import Foundation
import KindredCore
import KindredProtocol

// The commands that forward one request to kindredd and print its answer (Schema/protocol.md).
// Exit status: 0 answered, 1 refused (the reason on stderr), 2 kindredd not running.

/// An absolute path for a request line: kindredd resolves nothing relative to the client.
func absolute(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}

/// A path or an item id, as SIMILAR and INFO take them.
func target(_ word: String) -> Target {
    ItemID(validating: word).map(Target.id) ?? .path(absolute(word))
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what kindredd knows of one item: id, path, status, size, dimensions, format, error.")

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "A file in the collection, or an item id.") var item: String

    func run() throws {
        try daemon.ask(.info(target(item)), header: ["key", "value"])
    }
}

struct Duplicates: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List groups of duplicate images, each with the copy to keep first.",
        discussion: """
            Tiers: exact (the same bytes), near (perceptual hashes within --max-distance bits, confirmed by CNN \
            similarity: the same picture re-encoded or rescaled), similar (CNN cosine ≥ 0.97 alone: crops, borders, \
            stronger edits). The copy to keep has the most pixels, then the least compression, then the oldest file. \
            With --keep, prints only the paths that could go, one a line, escaped as every answer's fields are \
            (a newline in a name as \\n, a backslash as \\\\), or with --null each path as it is, ended by a NUL \
            byte, for xargs -0; nothing is ever deleted.
            """
    )

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "exact, near or similar.") var tier: DuplicateTier = .near
    @Option(help: "near: the most differing perceptual-hash bits (of 64).") var maxDistance = 6
    @Flag(help: "Print only the paths that could go (every copy but the one to keep).") var keep = false
    @Flag(name: [.customShort("0"), .long], help: "With --keep: end each path with a NUL byte, unescaped (xargs -0).")
    var null = false

    func run() throws {
        let request = Request.duplicates(tier: tier, maxDistance: maxDistance)
        guard keep else {
            return try daemon.ask(request, header: ["group", "tier", "id", "path", "keep", "width", "height", "bytes"])
        }
        // group, tier, id, path, keep, …. A name may hold a newline: a list a script deletes from
        // must not let one file's name read as another path.
        for row in try daemon.rows(request) where row.count > 4 && row[4] == "no" {
            if null {
                FileHandle.standardOutput.write(Data(row[3].utf8) + [0])
            } else {
                print(ResponseEncoder.escape(row[3]))
            }
        }
    }

    func validate() throws {
        if null && !keep { throw ValidationError("--null is for --keep's list of paths") }
    }
}

extension DuplicateTier: ExpressibleByArgument {}

struct Errors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the files kindredd could not read, with the reason. Each is retried when it changes.")

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "At most this many.") var limit = 100

    func run() throws {
        try daemon.ask(.errors(limit: limit), header: ["path", "reason"])
    }
}

struct Rescan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Have kindredd compare a directory (default: every root) with its catalog: new and changed files are indexed, vanished ones dropped."
    )

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "A directory inside a watched root.") var directory: String?

    func run() throws {
        try daemon.ask(.rescan(directory: directory.map(absolute)), header: ["rescanning"])
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add a directory to kindredd's roots: its images are indexed and followed, across restarts.")

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The directory.") var directory: String

    func run() throws {
        try daemon.ask(.watch(directory: absolute(directory)), header: ["watching"])
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Have kindredd copy its whole state (vectors, catalog, index snapshots, weights) into a new directory while it runs.",
        discussion:
            "The copy is a state directory: `kindredd --state DIR` starts on it. To restore, stop kindredd and start it on the copy (or move the copy where the state directory was)."
    )

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "A directory that does not exist yet, or an empty one.") var directory: String

    func run() throws {
        try daemon.ask(.backup(directory: absolute(directory)), header: ["part", "bytes"])
    }
}

struct Unwatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Remove a root: kindredd stops following it and drops its items from the catalog, the store and the index.")

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The root, as WATCH or STATUS lists it.") var directory: String

    func run() throws {
        try daemon.ask(.unwatch(directory: absolute(directory)), header: ["unwatched", "items_removed"])
    }
}
