import ArgumentParser

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show kindredd's items by status, queue, index size, roots and uptime.")

    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        try daemon.ask(.status, header: ["key", "value"])
    }
}
