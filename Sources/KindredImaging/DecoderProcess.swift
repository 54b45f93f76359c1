import CKindredKernels
import Foundation
import KindredCore

/// A decoder run in a child process, so that a library which crashes on a hostile file costs a
/// refused file rather than the process that asked. LibRaw 0.20 (Debian 12's) was the reason: the
/// RAW fuzz target reaches a segmentation fault in its TIFF parser within seconds, and a library
/// we cannot mend must not share an address space with kindredd. libheif followed (below), then
/// libtiff and OpenJPEG: fuzzed clean here, but each has a long record of memory-safety CVEs in
/// the versions a distribution ships, and the files they read (archival scans, often hundreds of
/// megabytes) make a child's start-up, a few milliseconds, negligible. JPEG, PNG, WebP, GIF and
/// BMP stay in-process (a child per file would cost JPEG and PNG a third of their speed).
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
    /// targets; `Tests/FuzzCorpus`). TIFF (libtiff) and JPEG 2000 (OpenJPEG) for their records.
    static let isolatedFormats: Set<ImageFormat> = [.raw, .heic, .avif, .tiff, .jp2]

    /// Decodes `bytes` as `format` in a child. `source`, when given, is an open regular file
    /// `bytes` were read from: the child reads the file itself rather than a copy (a file that
    /// changed since is the child's error, never the parent's). Throws what the child's decoder
    /// threw (with `path` restored), or `.corrupt` naming how the child failed.
    func decode(
        _ bytes: UnsafeRawBufferPointer, format: ImageFormat, path: String, options: DecodeOptions,
        source: Int32? = nil
    ) throws(ImageError) -> DecodedImage {
        guard isInstalled else {
            throw ImageError(
                path: path, kind: .unsupportedFormat,
                reason:
                    "\(format.rawValue) files are decoded by \(Self.executableName), and there is none at \(executable)"
            )
        }
        let arguments = [
            executable, format.rawValue, Self.encode(options), "\(memoryLimit)", "\(secondsLimit)", "\(bytes.count)",
        ]
        let reply = try exchange(
            bytes, source: source, arguments: arguments, replyLimit: Reply.limit(options, input: bytes.count), path)
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

    /// Spawns the child, gives it `bytes`, collects at most `replyLimit` bytes of reply, and reaps
    /// it, all within `secondsLimit`.
    private func exchange(
        _ bytes: UnsafeRawBufferPointer, source: Int32?, arguments: [String], replyLimit: Int, _ path: String
    ) throws(ImageError) -> [UInt8] {
        func failure(_ reason: String) -> ImageError {
            ImageError(path: path, kind: .corrupt, reason: "\(arguments[1]) decoder process: \(reason)")
        }
        // The child's standard input is a file: the one the bytes came from, read again from its
        // start, or else an in-memory copy. Streamed through a socket, 600 MB took the child
        // 1.4 s to read, against 0.1 s from a file (Benchmarks/RESULTS.md).
        let input: Int32
        if let source, lseek(source, 0, SEEK_SET) == 0 {
            input = fcntl(source, F_DUPFD_CLOEXEC, 0)  // close-on-exec: out of other threads' children
            guard input >= 0 else { throw failure("cannot pass the file on: \(String(cString: strerror(errno)))") }
        } else {
            input = try Self.inMemoryFile(bytes, failure)
        }
        defer { close(input) }
        // A socket pair for the reply rather than a pipe: SOCK_CLOEXEC keeps it out of other children.
        guard var output = SocketPair() else { throw failure("no socket pair: \(String(cString: strerror(errno)))") }
        defer { output.closeParent() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, 0)
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
        output.closeChild()
        guard spawned == 0 else { throw failure("cannot start \(executable): \(String(cString: strerror(spawned)))") }

        let deadline = ContinuousClock.now + .seconds(secondsLimit)
        var reply: [UInt8] = []
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
            let milliseconds = Int32(clamping: min(remaining.components.seconds * 1000 + 1, 50))
            guard poll(&polled, nfds_t(polled.count), milliseconds) >= 0 || errno == EINTR else {
                outcome = "poll failed: \(String(cString: strerror(errno)))"
                break
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

    /// `bytes` in an anonymous in-memory file (memfd, close-on-exec), positioned at its start.
    private static func inMemoryFile(
        _ bytes: UnsafeRawBufferPointer, _ failure: (String) -> ImageError
    ) throws(ImageError) -> Int32 {
        let fd = kk_memfd("kindred-decode-input")
        guard fd >= 0 else { throw failure("no in-memory file for the input: \(String(cString: strerror(errno)))") }
        var written = 0
        while written < bytes.count {
            let count = write(fd, bytes.baseAddress! + written, bytes.count - written)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw failure("cannot hold the \(bytes.count)-byte input in memory: \(reason)")
            }
            written += count
        }
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw failure("cannot rewind the input: \(reason)")
        }
        return fd
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

    /// `kindred-decode FORMAT OPTIONS MEMORY SECONDS BYTES`, with the file's BYTES bytes on
    /// standard input: decodes in this process and writes the reply to standard output. Exit
    /// status 2 when the arguments are not what `decode` passes (the child was started by hand or
    /// by something else).
    public static func childMain(_ arguments: [String]) -> Never {
        guard arguments.count == 6, let format = ImageFormat(rawValue: arguments[1]), isolatedFormats.contains(format),
            let options = decodeOptions(arguments[2]), let memory = Int(arguments[3]), memory > 0,
            let seconds = Int(arguments[4]), seconds > 0, let size = Int(arguments[5]), size >= 0
        else {
            FileHandle.standardError.write(
                Data(
                    "usage: \(executableName) \(isolatedFormats.map(\.rawValue).sorted().joined(separator: "|")) OPTIONS MEMORY SECONDS BYTES < file\n"
                        .utf8))
            exit(2)
        }
        limit(RLIMIT_CORE, 0)
        limit(RLIMIT_CPU, seconds)
        // On top of what is mapped already: a sanitizer's shadow memory is reserved at start.
        limit(RLIMIT_AS, mappedBytes() + memory)
        let reply: [UInt8]
        if size > options.maxFileBytes {
            reply = Reply.encode(ImageError(path: "", kind: .tooLarge, reason: "input over the file size limit"))
        } else if let mapped = mapInput(size) {
            // The file itself, mapped: its pages are the page cache's, so nothing is copied or
            // zeroed (fresh memory was most of the cost: 600 MB read into a buffer took 1 s). A file
            // truncated meanwhile raises SIGBUS here, which kills this child, not its parent.
            defer { munmap(UnsafeMutableRawPointer(mutating: mapped.baseAddress), size) }
            reply = decodeReply(mapped, format: format, options: options)
        } else if let bytes = HugePages.allocateBytes(size) {
            // A pipe or socket (a caller other than `decode`): read into one buffer.
            defer { HugePages.deallocate(bytes) }
            let filled = FileIO.read(0, into: bytes)
            reply =
                filled == size
                ? decodeReply(UnsafeRawBufferPointer(bytes), format: format, options: options)
                : Reply.encode(
                    ImageError(path: "", kind: .corrupt, reason: "input ended after \(max(filled, 0)) of \(size) bytes")
                )
        } else {
            reply = Reply.encode(
                ImageError(
                    path: "", kind: .tooLarge, reason: "cannot hold the file's \(size) bytes within \(memory >> 20) MiB"
                ))
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

    /// Standard input mapped whole, when it is a file of at least `size` bytes (what `decode`
    /// passes: the file itself, or an in-memory copy).
    private static func mapInput(_ size: Int) -> UnsafeRawBufferPointer? {
        var info = stat()
        guard size > 0, fstat(0, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) >= size else {
            return nil
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, 0, 0)
        guard let mapped, mapped != MAP_FAILED else { return nil }
        return UnsafeRawBufferPointer(start: mapped, count: size)
    }

    private static func decodeReply(
        _ bytes: UnsafeRawBufferPointer, format: ImageFormat, options: DecodeOptions
    ) -> [UInt8] {
        do { return Reply.encode(try decodeHere(bytes, format: format, options: options)) } catch {
            return Reply.encode(error)
        }
    }

    /// What the child runs, in the calling process: for `kindred-decode`, and for the fuzz
    /// targets, which must see the decoders' coverage. Never for outside files in kindredd.
    @_spi(Fuzzing) public static func decodeHere(
        _ bytes: UnsafeRawBufferPointer, format: ImageFormat, options: DecodeOptions
    ) throws(ImageError) -> DecodedImage {
        switch format {
        case .raw: return try RAWDecoder.decode(bytes, path: "", options: options)
        case .heic, .avif: return try HEIFDecoder.decode(bytes, format: format, path: "", options: options)
        case .tiff: return try TIFFDecoder.decode(bytes, path: "", options: options)
        case .jp2: return try JPEG2000Decoder.decode(bytes, path: "", options: options)
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
