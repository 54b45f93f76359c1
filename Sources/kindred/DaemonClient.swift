import ArgumentParser
import Foundation
import KindredProtocol

/// Options and output shared by the commands that ask kindredd.
struct DaemonOptions: ParsableArguments {
    @Option(help: "kindredd's socket (default: $XDG_RUNTIME_DIR/kindred/kindred.sock).") var socket: String?
    @Flag(help: "Print kindredd's JSON answer, for jq.") var json = false

    func connect() throws -> SocketClient {
        do { return try SocketClient(path: SocketPath.resolve(explicit: socket)) } catch {
            FileHandle.standardError.write(Data("kindred: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Sends `request`; prints the answer as an aligned table on a terminal, tab-separated rows
    /// otherwise, or kindredd's JSON. Exit status 1 for a refusal, 2 when kindredd is not running.
    func ask(_ request: Request, header: [String]) throws {
        let client = try connect()
        guard json else { return try show(try client.ask(request), header: header) }
        _ = try client.send(RequestEncoder.line(.format(.json)))
        try showJSON(try client.send(RequestEncoder.line(request), json: true))
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
            FileHandle.standardError.write(Data("kindred: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// kindredd's JSON answer line, as it came; exit status 1 when it is a refusal.
    func showJSON(_ lines: [String]) throws {
        print(lines[0])
        if lines[0].contains(#""ok":false"#) { throw ExitCode(1) }
    }

    /// Prints an answer's rows in the chosen form, or its refusal.
    func show(_ answer: Result<[[String]], ProtocolError>, header: [String]) throws {
        let rows = try refusing(answer)
        guard isatty(STDOUT_FILENO) == 1 else {
            for row in rows { print(row.joined(separator: "\t")) }
            return
        }
        let table = [header] + rows
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
