import Foundation

/// A decoder run in a child process, so that a library which crashes on a hostile file costs a
/// refused file rather than the process that asked. LibRaw 0.20 (Debian 12's) is the reason: the
/// RAW fuzz target reaches a segmentation fault in its TIFF parser within seconds, and a library
/// we cannot mend must not share an address space with kindredd. The other decoders are fuzzed
/// clean and stay in-process (a child per file would cost JPEG and PNG a third of their speed).
///
/// The child is `kindred-decode`, installed beside the executable that uses it. It takes the
/// file's bytes on its standard input and the `DecodeOptions` as arguments, caps its own address
/// space, CPU time and core size, decodes, and writes one reply: the image, or the decoder's
/// error. Everything in the reply is checked here as bytes from outside: a child that dies,
/// overruns, hangs or answers nonsense is a specific `ImageError`, never trusted.
public struct DecoderProcess: Sendable {
    public static let executableName = "kindred-decode"

    /// The child's executable.
    public var executable: String
    /// Address space the child may map beyond what it holds at start.
    public var memoryLimit = 4 << 30
    /// Wall-clock and CPU time a decode may take before the child is killed.
    public var secondsLimit = 120

    public init(executable: String) { self.executable = executable }

    /// `kindred-decode` in the directory of the running executable (kindredd, kindred, a test
    /// bundle or a fuzz target).
    public static let besideExecutable: DecoderProcess = {
        let running = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        let directory = URL(fileURLWithPath: running).deletingLastPathComponent()
        return DecoderProcess(executable: directory.appendingPathComponent(executableName).path)
    }()

    public var isInstalled: Bool { access(executable, X_OK) == 0 }

    /// The formats a child decodes (`ImageDecoder` sends them here).
    /// LibRaw 0.20 aborts on a fuzzed Hasselblad file, and libheif 1.15 recurses until the stack
    /// runs out on a HEIF grid image that names itself (both Debian 12's, both found by the fuzz
    /// targets; `Tests/FuzzCorpus`): those formats are decoded in a child.
    static let isolatedFormats: Set<ImageFormat> = [.raw, .heic, .avif]

    /// Decodes `bytes` as `format` in a child. Throws what the child's decoder threw (with `path`
    /// restored), or `.corrupt` naming how the child failed.
    func decode(
        _ bytes: UnsafeRawBufferPointer, format: ImageFormat, path: String, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        guard isInstalled else {
            throw ImageError(
                path: path, kind: .unsupportedFormat,
                reason:
                    "\(format.rawValue) files are decoded by \(Self.executableName), and there is none at \(executable)"
            )
        }
        let arguments = [executable, format.rawValue, Self.encode(options), "\(memoryLimit)", "\(secondsLimit)"]
        let reply = try exchange(
            bytes, arguments: arguments, replyLimit: Reply.limit(options, input: bytes.count), path)
        return try Reply.decode(reply, format: format, options: options, input: bytes.count, path: path)
    }

    /// A reply as the parent reads it (for the fuzz target: what a child taken over could write).
    @_spi(Fuzzing) public static func readReply(
        _ reply: [UInt8], options: DecodeOptions
    ) throws(ImageError)
        -> DecodedImage
    {
        try Reply.decode(reply, format: .raw, options: options, input: reply.count, path: "reply")
    }

    // MARK: The parent's side

    /// Spawns the child, feeds it `bytes`, collects at most `replyLimit` bytes of reply, and reaps
    /// it, all within `secondsLimit`.
    private func exchange(
        _ bytes: UnsafeRawBufferPointer, arguments: [String], replyLimit: Int, _ path: String
    ) throws(ImageError) -> [UInt8] {
        func failure(_ reason: String) -> ImageError {
            ImageError(path: path, kind: .corrupt, reason: "\(arguments[1]) decoder process: \(reason)")
        }
        // Socket pairs rather than pipes: sending with MSG_NOSIGNAL cannot raise SIGPIPE in the
        // parent when the child has gone, and SOCK_CLOEXEC keeps them out of other children.
        guard var input = SocketPair() else { throw failure("no socket pair: \(String(cString: strerror(errno)))") }
        guard var output = SocketPair() else {
            input.closeChild()
            input.closeParent()
            throw failure("no socket pair: \(String(cString: strerror(errno)))")
        }
        defer {
            input.closeParent()
            output.closeParent()
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input.child, 0)
        posix_spawn_file_actions_adddup2(&actions, output.child, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        // Swift's crash backtracer off: a crash is reported by its signal, and the backtracer,
        // started by the crashing child, would hold the child's output open for its 30 s timeout.
        var environment = ["SWIFT_BACKTRACE=enable=no"]
        var entry = environ
        while let variable = entry.pointee {
            let text = String(cString: variable)
            if !text.hasPrefix("SWIFT_BACKTRACE=") { environment.append(text) }
            entry += 1
        }
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        input.closeChild()
        output.closeChild()
        guard spawned == 0 else { throw failure("cannot start \(executable): \(String(cString: strerror(spawned)))") }

        let deadline = ContinuousClock.now + .seconds(secondsLimit)
        var reply: [UInt8] = []
        var sent = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var outcome: String? = nil
        var exitStatus: Int32? = nil
        /// Reads what is there: > 0 bytes taken, 0 at the end, < 0 nothing now (or an error).
        func receive() -> Int {
            let received = chunk.withUnsafeMutableBytes { recv(output.parent, $0.baseAddress, $0.count, 0) }
            guard received > 0 else { return received == 0 || (errno != EAGAIN && errno != EINTR) ? 0 : -1 }
            guard reply.count + received <= replyLimit else {
                outcome = "reply longer than the \(replyLimit) bytes an image of this size needs"
                return 0
            }
            reply += chunk[0..<received]
            return received
        }
        while outcome == nil {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else {
                outcome = "killed after \(secondsLimit) s"
                break
            }
            var polled = [pollfd(fd: output.parent, events: Int16(POLLIN), revents: 0)]
            if input.parent >= 0 { polled.append(pollfd(fd: input.parent, events: Int16(POLLOUT), revents: 0)) }
            let milliseconds = Int32(clamping: min(remaining.components.seconds * 1000 + 1, 50))
            guard poll(&polled, nfds_t(polled.count), milliseconds) >= 0 || errno == EINTR else {
                outcome = "poll failed: \(String(cString: strerror(errno)))"
                break
            }
            if polled.count > 1, polled[1].revents != 0 {
                let written = send(input.parent, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                if written > 0 { sent += written }
                // Done, or the child stopped reading (it has failed; its exit says how).
                if sent == bytes.count || (written < 0 && errno != EAGAIN && errno != EINTR) { input.closeParent() }
            }
            if polled[0].revents != 0 {
                if receive() == 0 { break }  // the child closed its output: done or dead, as its exit says
                continue
            }
            // Nothing to read: has the child gone? A process it started may hold its output open.
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = status
                while receive() > 0 {}  // what it wrote before exiting waits in the socket
                break
            }
        }
        let status = exitStatus.map(Self.interpret) ?? reap(pid, kill: outcome != nil, deadline: deadline)
        if let outcome { throw failure(outcome) }
        if status.signal != 0 {
            throw failure(
                "died of signal \(status.signal) (\(String(cString: strsignal(status.signal)))): the file is damaged"
                    + " in a way the decoder does not survive, or needs more than \(memoryLimit >> 20) MiB")
        }
        guard status.exit == 0 else { throw failure("exited with status \(status.exit)") }
        return reply
    }

    /// Waits for the child, killing it first when asked or when it outlives `deadline`.
    private func reap(
        _ pid: pid_t, kill killNow: Bool, deadline: ContinuousClock.Instant
    ) -> (exit: Int32, signal: Int32) {
        if killNow { kill(pid, SIGKILL) }
        var status: Int32 = 0
        var pause = 100  // microseconds, doubling: the child exits as soon as its reply is out
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now >= deadline { kill(pid, SIGKILL) }
            usleep(UInt32(pause))
            pause = min(pause * 2, 10_000)
        }
        return Self.interpret(status)
    }

    /// WIFSIGNALED / WTERMSIG / WEXITSTATUS, which Swift does not import (they are macros).
    private static func interpret(_ status: Int32) -> (exit: Int32, signal: Int32) {
        let signal = status & 0x7F
        return signal != 0 && signal != 0x7F ? (0, signal) : ((status >> 8) & 0xFF, 0)
    }

    private struct SocketPair {
        private(set) var parent: Int32
        private(set) var child: Int32

        init?() {
            var fds: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
                return nil
            }
            (parent, child) = (fds[0], fds[1])
            _ = fcntl(parent, F_SETFL, fcntl(parent, F_GETFL) | O_NONBLOCK)
        }

        // Closing is idempotent (the fd is forgotten), so the paths out of `exchange` may overlap.
        mutating func closeParent() {
            if parent >= 0 { close(parent) }
            parent = -1
        }

        mutating func closeChild() {
            if child >= 0 { close(child) }
            child = -1
        }
    }

    // MARK: The child's side

    /// `kindred-decode FORMAT OPTIONS MEMORY SECONDS`, with the file on standard input: decodes
    /// in this process and writes the reply to standard output. Exit status 2 when the arguments
    /// are not what `decode` passes (the child was started by hand or by something else).
    public static func childMain(_ arguments: [String]) -> Never {
        guard arguments.count == 5, let format = ImageFormat(rawValue: arguments[1]), isolatedFormats.contains(format),
            let options = decodeOptions(arguments[2]), let memory = Int(arguments[3]), memory > 0,
            let seconds = Int(arguments[4]), seconds > 0
        else {
            FileHandle.standardError.write(
                Data("usage: \(executableName) raw|heic|avif OPTIONS MEMORY SECONDS < file\n".utf8))
            exit(2)
        }
        limit(RLIMIT_CORE, 0)
        limit(RLIMIT_CPU, seconds)
        // On top of what is mapped already: a sanitizer's shadow memory is reserved at start.
        limit(RLIMIT_AS, mappedBytes() + memory)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
            if bytes.count > options.maxFileBytes { break }
        }
        var reply: [UInt8]
        if bytes.count > options.maxFileBytes {
            reply = Reply.encode(ImageError(path: "", kind: .tooLarge, reason: "input over the file size limit"))
        } else {
            do {
                let decoded = try bytes.withUnsafeBytes { try decodeInProcess($0, format: format, options: options) }
                reply = Reply.encode(decoded)
            } catch {
                reply = Reply.encode(error as! ImageError)
            }
        }
        var written = 0
        while written < reply.count {
            let count = reply.withUnsafeBytes { write(1, $0.baseAddress! + written, $0.count - written) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { _exit(1) }
            written += count
        }
        // _exit: no atexit handlers (a sanitizer's leak check would change the exit status).
        _exit(0)
    }

    private static func decodeInProcess(
        _ bytes: UnsafeRawBufferPointer, format: ImageFormat, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        switch format {
        case .raw: return try RAWDecoder.decode(bytes, path: "", options: options)
        case .heic, .avif: return try HEIFDecoder.decode(bytes, format: format, path: "", options: options)
        default: throw ImageError(path: "", kind: .unsupportedFormat, reason: "\(format) is not decoded in a child")
        }
    }

    private static func limit(_ resource: __rlimit_resource, _ value: Int) {
        var cap = rlimit(rlim_cur: rlim_t(value), rlim_max: rlim_t(value))
        setrlimit(__rlimit_resource_t(resource.rawValue), &cap)
    }

    /// The process's mapped address space now (the first field of /proc/self/statm, in pages).
    private static func mappedBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = statm.split(separator: " ").first.flatMap({ Int($0) })
        else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    // MARK: Options on the command line

    /// The size rules as one argument, so the child decodes exactly as the parent would.
    static func encode(_ options: DecodeOptions) -> String {
        [
            options.targetShortSide, options.maxOutputSide, options.maxSide, options.pixelLimit,
            options.streamedPixelLimit, options.maxFileBytes, options.managesColour ? 1 : 0,
        ].map(String.init).joined(separator: ":")
    }

    static func decodeOptions(_ text: String) -> DecodeOptions? {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard fields.count == 7, let values = fields as? [Int], values.allSatisfy({ $0 >= 0 }), values[6] <= 1 else {
            return nil
        }
        var options = DecodeOptions()
        (options.targetShortSide, options.maxOutputSide, options.maxSide, options.pixelLimit) =
            (values[0], values[1], values[2], values[3])
        (options.streamedPixelLimit, options.maxFileBytes, options.managesColour) = (
            values[4], values[5], values[6] == 1
        )
        return options
    }
}
