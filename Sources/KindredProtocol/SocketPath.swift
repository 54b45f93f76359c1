import Foundation

/// Where kindredd listens: `--socket PATH` if given (a relative one taken from the current
/// directory), else systemd's `$RUNTIME_DIRECTORY`, else `$XDG_RUNTIME_DIR/kindred`, else
/// `/tmp/kindred-UID`; the socket is `kindred.sock` there.
public enum SocketPath {
    public static func resolve(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) -> String {
        // `--socket k.sock` used to reach the server as a path with no folder, and creating its
        // folder failed with Foundation's "The file doesn't exist" and an empty path.
        if let explicit, !explicit.isEmpty {
            return explicit.utf8.first == UInt8(ascii: "/") ? explicit : "\(currentDirectory)/\(explicit)"
        }
        if let runtime = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first {
            return "\(runtime)/kindred.sock"
        }
        if let xdg = environment["XDG_RUNTIME_DIR"], xdg.hasPrefix("/") { return "\(xdg)/kindred/kindred.sock" }
        return "/tmp/kindred-\(getuid())/kindred.sock"
    }

    /// Bytes a Unix socket address holds for a path, its terminating NUL included.
    public static let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)

    /// A path that cannot name a Unix socket.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Throws unless `path` fits a socket address: the server's bind and the client's connect
    /// both check here, so the message is the same from either side.
    public static func validate(_ path: String) throws(Invalid) {
        let bytes = path.utf8.count
        guard bytes < capacity else {
            throw Invalid(
                description:
                    "the socket path \(path) is \(bytes) bytes; a Unix socket address holds at most \(capacity - 1)")
        }
    }
}
