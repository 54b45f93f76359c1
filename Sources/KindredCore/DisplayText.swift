import Logging

/// Text from outside, a file's name above all, shown to a person: on a terminal or in a log line.
/// A name may hold a newline, a tab or a terminal's escape sequence; shown raw, a newline ends a
/// log line early and lets the rest of the name read as a record of its own (to journald, an
/// entry of its own), and an escape sequence moves the cursor or retitles the window.
public enum DisplayText {
    /// `text` with backslashes, tabs, newlines and carriage returns written as the protocol writes
    /// them (`\\`, `\t`, `\n`, `\r`) and every other control character (C0, DEL, C1) as `\u{…}`:
    /// one line that shows what the text holds. For display only; the protocol's own escapes are
    /// `KindredProtocol.Escapes`, which a client can invert.
    public static func visible(_ text: String) -> String {
        // 0xC2 leads the UTF-8 of U+0080–U+00BF, the C1 controls among them.
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0x5C || $0 == 0xC2 }) else {
            return text
        }
        return BackslashEscapes.escape(text) { scalar in
            scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                ? "\\u{\(String(scalar.value, radix: 16, uppercase: true))}" : nil
        }
    }
}

/// The backslash escapes Kindred writes wherever text must stay one line: the protocol's fields
/// and quoted words (`KindredProtocol.Escapes`) and text shown to a person (`DisplayText`). By
/// Unicode scalars: to Swift "\r\n" is one Character, equal to neither "\r" nor "\n".
public enum BackslashEscapes {
    /// `text` with backslashes, tabs, newlines and carriage returns written `\\`, `\t`, `\n`,
    /// `\r`, and any other scalar as `more` writes it (nil: as it is).
    public static func escape(_ text: String, more: (Unicode.Scalar) -> String?) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out.append(contentsOf: #"\\"#.unicodeScalars)
            case "\t": out.append(contentsOf: #"\t"#.unicodeScalars)
            case "\n": out.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": out.append(contentsOf: #"\r"#.unicodeScalars)
            default:
                if let written = more(scalar) {
                    out.append(contentsOf: written.unicodeScalars)
                } else {
                    out.append(scalar)
                }
            }
        }
        return String(out)
    }
}

/// A log handler whose every event is one line, whatever it quotes: the message and the metadata
/// (the event's and the handler's) pass through `DisplayText.visible` before `wrapped` writes
/// them. kindredd and kindred log through it.
public struct LineSafeLogHandler: LogHandler {
    private var wrapped: any LogHandler

    public init(_ wrapped: any LogHandler) { self.wrapped = wrapped }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(DisplayText.visible(event.message.description))"
        event.metadata = event.metadata.map(Self.visible)
        wrapped.log(event: event)
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set {
            wrapped.metadataProvider = newValue.map { provider in
                Logger.MetadataProvider { Self.visible(provider.get()) }
            }
        }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = Self.visible(newValue) }
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: DisplayText.visible(key)] = newValue.map(Self.visible) }
    }

    static func visible(_ metadata: Logger.Metadata) -> Logger.Metadata {
        Dictionary(uniqueKeysWithValues: metadata.map { (DisplayText.visible($0.key), visible($0.value)) })
    }

    static func visible(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(DisplayText.visible(text))
        case .stringConvertible(let convertible): .string(DisplayText.visible(convertible.description))
        case .array(let values): .array(values.map(visible))
        case .dictionary(let values): .dictionary(visible(values))
        }
    }
}
