import Foundation
import Glibc
import KindredProtocol

/// The daemon's side of systemd's protocols: readiness and status notifications (`sd_notify`,
/// over the datagram socket in `$NOTIFY_SOCKET`), and socket activation (`$LISTEN_FDS`). Both are
/// a few lines of documented wire format, so no libsystemd is linked.
public enum Systemd {
    /// Sends `state` (e.g. "READY=1\nSTATUS=indexing") if systemd asked for notifications.
    @discardableResult
    public static func notify(
        _ state: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        guard var path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let abstract = path.hasPrefix("@")
        if abstract { path.removeFirst() }
        let bytes = (abstract ? [0] : []) + Array(path.utf8)
        guard bytes.count < SocketPath.capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, message, message.count, 0, $0, length)
            }
        }
        return sent == message.count
    }

    /// The listening socket systemd passed (fd 3), if it passed exactly one to this process.
    public static func listeningSocket(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int32? {
        guard environment["LISTEN_PID"].flatMap({ Int32($0) }) == getpid(), environment["LISTEN_FDS"] == "1" else {
            return nil
        }
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
        return 3
    }

    /// Half the watchdog interval systemd asked for, or nil when there is no watchdog.
    public static func watchdogInterval(environment: [String: String] = ProcessInfo.processInfo.environment) -> Double?
    {
        guard let text = environment["WATCHDOG_USEC"], let usec = Double(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"].flatMap({ Int32($0) }), pid != getpid() { return nil }
        return usec / 2_000_000
    }
}
