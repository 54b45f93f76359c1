import ArgumentParser
import Foundation
import KindredCore
import Logging

/// Options every command that touches the state directory shares.
struct StateOptions: ParsableArguments {
    @Option(
        name: .customLong("state"),
        help: ArgumentHelp(
            "The state directory.",
            discussion: "Default: $STATE_DIRECTORY, else $XDG_STATE_HOME/kindred, else ~/.local/state/kindred."),
        completion: .directory)
    var directory: String?

    var paths: StatePaths { StatePaths.resolve(explicit: directory) }

    /// Takes the state directory for a command that writes it (`StateLock`): refused while
    /// kindredd, or another such command, runs on it. Held until the returned lock goes.
    func lockForWriting(_ command: String) throws -> StateLock {
        do { return try StateLock.acquire(paths, holder: "kindred \(command)") } catch {
            throw ValidationError(error.isHeld ? "\(error); kindred \(command) changes the store" : "\(error)")
        }
    }
}

struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var level: Logger.Level = .warning

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { LineSafeLogHandler(StreamLogHandler.standardError(label: $0)) }
        logger.logLevel = level
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Prints one JSON object on one line: the machine-readable result offline commands end with.
func printJSONLine(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

/// Seconds since `start`, rounded for printing.
func elapsed(since start: ContinuousClock.Instant) -> Double {
    ((ContinuousClock.now - start).seconds * 10_000).rounded() / 10_000
}
