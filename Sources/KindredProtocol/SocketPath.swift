import Foundation

/// Where kindredd listens: `--socket PATH` if given, else systemd's `$RUNTIME_DIRECTORY`, else
/// `$XDG_RUNTIME_DIR/kindred`, else `/tmp/kindred-UID`; the socket is `kindred.sock` there.
public enum SocketPath {
    public static func resolve(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let runtime = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first {
            return "\(runtime)/kindred.sock"
        }
        if let xdg = environment["XDG_RUNTIME_DIR"], xdg.hasPrefix("/") { return "\(xdg)/kindred/kindred.sock" }
        return "/tmp/kindred-\(getuid())/kindred.sock"
    }
}
