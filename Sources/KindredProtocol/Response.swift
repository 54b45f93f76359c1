import Foundation

/// A successful answer: named columns and rows of fields.
public struct Response: Equatable, Sendable {
    public var columns: [String]
    public var rows: [[String]]

    public init(columns: [String], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }
}

/// Writes answers in the connection's format (Schema/protocol.md), each ending with a newline.
public enum ResponseEncoder {
    public static func encode(_ answer: Result<Response, ProtocolError>, as format: OutputFormat) -> String {
        switch (answer, format) {
        case (.success(let response), .text):
            return "OK \(response.rows.count)\n"
                + response.rows.map { $0.map(escape).joined(separator: "\t") + "\n" }.joined()
        case (.failure(let error), .text):
            return "ERR \(error.code.rawValue) \(escape(error.message))\n"
        case (.success(let response), .json):
            return json(JSONSuccess(ok: true, columns: response.columns, rows: response.rows))
        case (.failure(let error), .json):
            return json(JSONFailure(ok: false, error: error.code.rawValue, message: error.message))
        }
    }

    /// Tabs, newlines, carriage returns and backslashes in a field, escaped (`Escapes`) so a row
    /// stays one line of tab-separated fields, whatever a file's name holds.
    public static func escape(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 == 0x5C }) else { return field }
        return Escapes.escape(field, quotes: false)
    }

    /// One text answer row's fields, unescaped: the inverse of how rows are written, for clients.
    public static func fields(_ row: String) -> [String] {
        row.unicodeScalars.split(separator: "\t", omittingEmptySubsequences: false).map { unescape(Substring($0)) }
    }

    /// The inverse of `escape`, for clients (by Unicode scalars, as `escape` writes).
    public static func unescape(_ field: Substring) -> String {
        guard field.utf8.contains(0x5C) else { return String(field) }
        var out = String.UnicodeScalarView(), escaping = false
        for scalar in field.unicodeScalars {
            if escaping {
                out.append(scalar == "t" ? "\t" : scalar == "n" ? "\n" : scalar == "r" ? "\r" : scalar)
                escaping = false
            } else if scalar == "\\" {
                escaping = true
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// A text answer (the `OK n` line and its rows, or the `ERR` line) as a client sees it: the
    /// rows with their fields unescaped, or the refusal with its code. The inverse of `encode`.
    public static func decode(_ lines: [String]) -> Result<[[String]], ProtocolError> {
        guard let first = lines.first else { return .failure(ProtocolError(.internalError, "no answer")) }
        if first.hasPrefix("OK ") { return .success(lines.dropFirst().map(fields)) }
        guard first.hasPrefix("ERR ") else {
            return .failure(ProtocolError(.internalError, "not an answer: \(first.prefix(200))"))
        }
        let rest = first.dropFirst(4)
        let code = rest.prefix { $0 != " " }
        let message = rest.dropFirst(code.count + 1)
        return .failure(ProtocolError(ProtocolError.Code(rawValue: String(code)) ?? .internalError, unescape(message)))
    }

    /// A JSON answer line as a client sees it: the response with its column names, or the
    /// refusal with its code. The inverse of `encode(_:as: .json)`.
    public static func decodeJSON(_ line: String) -> Result<Response, ProtocolError> {
        let data = Data(line.utf8), decoder = JSONDecoder()
        if let success = try? decoder.decode(JSONSuccess.self, from: data), success.ok {
            return .success(Response(columns: success.columns, rows: success.rows))
        }
        if let failure = try? decoder.decode(JSONFailure.self, from: data), !failure.ok {
            return .failure(
                ProtocolError(ProtocolError.Code(rawValue: failure.error) ?? .internalError, failure.message))
        }
        return .failure(ProtocolError(.internalError, "not an answer: \(line.prefix(200))"))
    }

    private struct JSONSuccess: Codable { let ok: Bool; let columns: [String]; let rows: [[String]] }
    private struct JSONFailure: Codable { let ok: Bool; let error: String; let message: String }

    private static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(value), as: UTF8.self) + "\n"  // strings and arrays always encode
    }
}
