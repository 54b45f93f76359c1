import KindredCore

/// The protocol's backslash escapes (Schema/protocol.md), written in one place for requests'
/// quoted words and answers' fields. By Unicode scalars: to Swift "\r\n" is one Character, equal
/// to neither "\r" nor "\n", and a quote or backslash followed by a combining mark is another.
enum Escapes {
    /// `text` with backslashes, tabs, newlines and carriage returns escaped, and double quotes
    /// when `quotes` (inside a request's quoted word).
    static func escape(_ text: String, quotes: Bool) -> String {
        BackslashEscapes.escape(text) { quotes && $0 == "\"" ? #"\""# : nil }
    }
}
