import Foundation
import KindredImaging

/// Decodes a file in a child process (kindredd re-executed with `--probe-decode`), under a memory
/// limit, to learn whether the file itself kills the decoder. A crash or an out-of-memory death of
/// the child names the file exactly; a kill of kindredd while the file was in flight does not.
public struct DecodeProbe: Sendable {
    public var executable: URL
    /// The child's address-space limit: a decode needing more dies as an out-of-memory would.
    public var memoryLimit: Int

    public init(executable: URL, memoryLimit: Int = 4 << 30) {
        self.executable = executable
        self.memoryLimit = memoryLimit
    }

    /// nil when the child survived (decoded or refused the file); otherwise how it died.
    public func run(_ path: String, options: DecodeOptions) -> String? {
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "--probe-decode", path, "--probe-limits", "\(options.pixelLimit):\(options.maxFileBytes):\(memoryLimit)",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }  // no probe to be had: treat the file as innocent
        process.waitUntilExit()
        switch process.terminationReason {
        case .uncaughtSignal: return "signal \(process.terminationStatus) in a decode probe"
        case .exit:
            return process.terminationStatus == 0 || process.terminationStatus == 3
                ? nil : "exit \(process.terminationStatus) of a decode probe"
        @unknown default: return nil
        }
    }

    /// The child's side: parses `--probe-limits`, caps its address space, decodes, exits.
    public static func runChild(path: String, limits: String) -> Never {
        let parts = limits.split(separator: ":").compactMap { Int($0) }
        var options = DecodeOptions()
        if parts.count == 3 {
            options.pixelLimit = parts[0]
            options.maxFileBytes = parts[1]
            var cap = rlimit(rlim_cur: rlim_t(parts[2]), rlim_max: rlim_t(parts[2]))
            setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &cap)
        }
        exit(Ingestor.probeDecode(path, options: options))
    }
}
