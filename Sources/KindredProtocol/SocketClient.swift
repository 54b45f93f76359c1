import Foundation

/// A blocking client for the line protocol: send one request, read its whole answer.
public final class SocketClient {
    public enum Failure: Error, CustomStringConvertible {
        case notRunning(path: String, errno: Int32)
        /// The path can name no socket (`SocketPath.validate`).
        case badPath(String)
        case io(String)

        public var description: String {
            switch self {
            case .notRunning(let path, let code):
                return
                    "kindredd is not running (cannot connect to \(path): \(String(cString: strerror(code)))); start it with `kindredd --watch DIR`"
            case .badPath(let why): return why
            case .io(let what): return "lost the connection to kindredd: \(what)"
            }
        }
    }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private let chunk = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)

    public init(path: String) throws(Failure) {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .io("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        // On every failure below, deinit closes the socket and frees the buffer: an initializer
        // that throws after setting all properties still runs deinit, so closing here too would
        // close a descriptor number another thread may already have reused.
        do throws(SocketPath.Invalid) { try SocketPath.validate(path) } catch { throw .badPath(error.description) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0 else {
            throw .notRunning(path: path, errno: errno)
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        chunk.deallocate()
    }

    /// The process at the other end (kindredd), as the kernel saw it connect (SO_PEERCRED); nil if
    /// the kernel does not say.
    public var peer: PeerCredentials? {
        var credentials = PeerCredentials(pid: 0, uid: 0, gid: 0)
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
            length == MemoryLayout<PeerCredentials>.size, credentials.pid > 0
        else { return nil }
        return credentials
    }

    /// Sends `request` and returns the answer's lines: for text, the `OK n` line and its n rows
    /// (or the one `ERR` line); for JSON, the one line.
    public func send(_ request: String, payload: [UInt8] = [], json: Bool = false) throws(Failure) -> [String] {
        let line = Array((request + "\n").utf8) + payload
        var sent = 0
        while sent < line.count {
            let n = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + sent, line.count - sent) }
            guard n > 0 else { throw .io("write: \(String(cString: strerror(errno)))") }
            sent += n
        }
        let first = try readLine()
        guard !json, first.hasPrefix("OK "), let count = Int(first.dropFirst(3)) else { return [first] }
        var lines = [first]
        for _ in 0..<count { lines.append(try readLine()) }
        return lines
    }

    /// Sends `request` (and `payload` after it) and returns the answer: its rows, fields
    /// unescaped, or kindredd's refusal with its code. Connection trouble throws.
    public func ask(_ request: Request, payload: [UInt8] = []) throws(Failure) -> Result<[[String]], ProtocolError> {
        ResponseEncoder.decode(try send(RequestEncoder.line(request), payload: payload))
    }

    /// As `ask`, with the answer's column names: the connection is switched to JSON answers
    /// (`FORMAT json`) for this and later requests.
    public func askWithColumns(
        _ request: Request, payload: [UInt8] = []
    ) throws(Failure) -> Result<Response, ProtocolError> {
        _ = try send(RequestEncoder.line(.format(.json)), json: true)
        return ResponseEncoder.decodeJSON(try send(RequestEncoder.line(request), payload: payload, json: true)[0])
    }

    private func readLine() throws(Failure) -> String {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            let n = Glibc.read(fd, chunk, 65536)
            guard n > 0 else { throw .io(n == 0 ? "closed by kindredd" : String(cString: strerror(errno))) }
            buffer += UnsafeRawBufferPointer(start: chunk, count: n)
        }
    }
}

/// glibc's `struct ucred` (pid_t, uid_t, gid_t), which Swift does not import because it sits
/// behind _GNU_SOURCE; the kernel fills it for SO_PEERCRED, on either end of a Unix socket: what
/// kindredd authorizes a client by (`Peer`), and how a client finds kindredd's process.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "pid \(pid), uid \(uid), gid \(gid)" }
}
