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

    /// Sends `request` (and `payload` after it); prints the answer as an aligned table on a
    /// terminal, tab-separated rows otherwise, or JSON. Exit status 1 for an `ERR` answer, 2 when
    /// kindredd is not running.
    func ask(_ request: String, header: [String]) throws {
        let client = try connect()
        if json { _ = try client.send("FORMAT json") }
        try show(try client.send(request, json: json), header: header)
    }

    /// Sends `request` and returns the answer's rows, fields unescaped; an `ERR` answer goes to
    /// stderr with exit status 1.
    func rows(_ request: String) throws -> [[String]] {
        let lines = try connect().send(request)
        guard lines.first?.hasPrefix("OK") == true else {
            FileHandle.standardError.write(Data("kindred: \(lines.first?.dropFirst(4) ?? "no answer")\n".utf8))
            throw ExitCode(1)
        }
        return lines.dropFirst().map(ResponseEncoder.fields)
    }

    /// Prints an answer (as `SocketClient.send` returns it) in the chosen form.
    func show(_ lines: [String], header: [String]) throws {
        if json {
            print(lines[0])
            if lines[0].hasPrefix(#"{"error""#) || lines[0].contains(#""ok":false"#) { throw ExitCode(1) }
            return
        }
        guard lines[0].hasPrefix("OK ") else {
            FileHandle.standardError.write(Data("kindred: \(lines[0].dropFirst(4))\n".utf8))
            throw ExitCode(1)
        }
        let rows = lines.dropFirst().map(ResponseEncoder.fields)
        guard isatty(STDOUT_FILENO) == 1 else {
            for row in rows { print(row.joined(separator: "\t")) }
            return
        }
        let table = [header] + rows
        let widths = header.indices.map { column in table.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        for row in table {
            print(row.enumerated().map { $0.offset == row.count - 1 ? $0.element : $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  "))
        }
    }
}

/// Quotes a word for a request line when it needs it.
func quoted(_ word: String) -> String {
    guard word.contains(where: { $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "\\" }) else { return word }
    return "\"" + word.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\t", with: "\\t") + "\""
}
