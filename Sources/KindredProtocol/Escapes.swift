/// The protocol's backslash escapes (Schema/protocol.md), written in one place for requests'
/// quoted words and answers' fields. By Unicode scalars: to Swift "\r\n" is one Character, equal
/// to neither "\r" nor "\n", and a quote or backslash followed by a combining mark is another.
enum Escapes {
    /// `text` with backslashes, tabs, newlines and carriage returns escaped, and double quotes
    /// when `quotes` (inside a request's quoted word).
    static func escape(_ text: String, quotes: Bool) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out.append(contentsOf: #"\\"#.unicodeScalars)
            case "\t": out.append(contentsOf: #"\t"#.unicodeScalars)
            case "\n": out.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": out.append(contentsOf: #"\r"#.unicodeScalars)
            case "\"" where quotes: out.append(contentsOf: #"\""#.unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}
