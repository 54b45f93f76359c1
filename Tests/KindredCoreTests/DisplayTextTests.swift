import Foundation
import KindredCore
import Logging
import Synchronization
import Testing

@Suite struct DisplayTextTests {
    @Test func controlCharactersAreShownNotObeyed() {
        #expect(DisplayText.visible("plain é ° name.jpg") == "plain é ° name.jpg")
        #expect(DisplayText.visible("a\tb\nc\rd\\e") == #"a\tb\nc\rd\\e"#)
        #expect(DisplayText.visible("\u{1B}]0;title\u{07}\u{7F}\u{85}x") == #"\u{1B}]0;title\u{7}\u{7F}\u{85}x"#)
        #expect(DisplayText.visible("\r\n") == #"\r\n"#, "one Character to Swift, two scalars shown")
    }

    final class Events: Sendable {
        let list = Mutex<[LogEvent]>([])
    }

    /// Records what the wrapped handler is asked to write.
    struct Recording: LogHandler {
        let events: Events
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            var event = event
            event.metadata = metadata.merging(event.metadata ?? [:]) { $1 }
            events.list.withLock { $0.append(event) }
        }
    }

    @Test func everyLogEventIsOneLine() throws {
        let events = Events()
        var logger = Logger(label: "test") { _ in LineSafeLogHandler(Recording(events: events)) }
        logger[metadataKey: "root"] = "/art\nnotice kindredd: forged"
        logger.error(
            "could not read x.jpg\nnotice kindredd: forged",
            metadata: ["path": "x.jpg\n", "all": ["a\nb", ["k\n": "\u{1B}[2J"]], "n": .stringConvertible(12)])
        let event = try #require(events.list.withLock { $0.first })
        #expect(event.message.description == #"could not read x.jpg\nnotice kindredd: forged"#)
        let metadata = event.metadata ?? [:]
        #expect(metadata["root"]?.description == #"/art\nnotice kindredd: forged"#)
        #expect(metadata["path"]?.description == #"x.jpg\n"#)
        #expect(metadata["n"]?.description == "12")
        guard case .array(let all) = metadata["all"], case .dictionary(let inner) = all.last else {
            Issue.record("nested metadata lost its shape: \(metadata)")
            return
        }
        #expect(all.first?.description == #"a\nb"#)
        #expect(inner[#"k\n"#]?.description == #"\u{1B}[2J"#)
    }
}
