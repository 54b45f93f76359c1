import ArgumentParser
import Foundation
import KindredCore
import KindredProtocol

/// Options and output shared by the commands that ask kindredd.
struct DaemonOptions: ParsableArguments {
    @Option(help: "kindredd's socket (default: $XDG_RUNTIME_DIR/kindred/kindred.sock).") var socket: String?
    @Flag(help: "Print the answer as JSON for jq: one object for key/value answers, else an array of objects.")
    var json = false

    var socketPath: String { SocketPath.resolve(explicit: socket) }

    func connect() throws -> SocketClient {
        do { return try SocketClient(path: socketPath) } catch {
            FileHandle.standardError.write(Data("kindred: \(DisplayText.visible("\(error)"))\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Sends `request`; prints the answer as an aligned table on a terminal, tab-separated rows
    /// otherwise, or kindredd's JSON. Exit status 1 for a refusal, 2 when kindredd is not running.
    func ask(_ request: Request, header: [String]) throws {
        let client = try connect()
        guard json else { return try show(try client.ask(request), header: header) }
        try showJSON(try client.askWithColumns(request))
    }

    /// Sends `request` and returns the answer's rows, fields unescaped; a refusal goes to stderr
    /// with exit status 1.
    func rows(_ request: Request) throws -> [[String]] {
        try refusing(try connect().ask(request))
    }

    /// The rows of an answer, or its refusal on stderr and exit status 1.
    func refusing(_ answer: Result<[[String]], ProtocolError>) throws -> [[String]] {
        switch answer {
        case .success(let rows): return rows
        case .failure(let error):
            FileHandle.standardError.write(Data("kindred: \(DisplayText.visible("\(error)"))\n".utf8))
            throw ExitCode(1)
        }
    }

    /// An answer as JSON for jq, on one line: a key/value answer (STATUS, INFO, REFIT wait) as one
    /// object, any other as an array of objects keyed by column name, fields as strings; a refusal
    /// as `{"error": code, "message": …}` with exit status 1.
    func showJSON(_ answer: Result<Response, ProtocolError>) throws {
        let value: Any
        switch answer {
        case .success(let response) where response.columns == ["key", "value"]:
            value = Dictionary(
                response.rows.map { ($0[0], $0.count > 1 ? $0[1] : "") }, uniquingKeysWith: { a, _ in a })
        case .success(let response):
            value = response.rows.map { Dictionary(zip(response.columns, $0), uniquingKeysWith: { a, _ in a }) }
        case .failure(let refusal):
            value = ["error": refusal.code.rawValue, "message": refusal.message]
        }
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
        if case .failure = answer { throw ExitCode(1) }
    }

    /// Prints an answer's rows in the chosen form, or its refusal. A field is whatever a file's
    /// name holds: piped, each row stays one line of tab-separated fields escaped as the protocol
    /// escapes them (`ResponseEncoder.escape`: `\t`, `\n`, `\r`, `\\`); on a terminal control
    /// characters are shown, not obeyed (`DisplayText.visible`).
    func show(_ answer: Result<[[String]], ProtocolError>, header: [String]) throws {
        let rows = try refusing(answer)
        guard isatty(STDOUT_FILENO) == 1 else {
            for row in rows { print(row.map(ResponseEncoder.escape).joined(separator: "\t")) }
            return
        }
        let table = [header] + rows.map { $0.map(DisplayText.visible) }
        let widths = header.indices.map { column in
            table.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0
        }
        for row in table {
            print(
                row.enumerated().map {
                    $0.offset == row.count - 1
                        ? $0.element : $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0)
                }
                .joined(separator: "  "))
        }
    }
}
