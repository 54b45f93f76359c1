import Foundation
import Glibc
import KindredEngine
import KindredServer
import KindredTestSupport
import Testing

@Suite struct SystemdTests {
    @Test func notificationsReachTheNotifySocket() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kindred-notify-\(UUID().uuidString.prefix(8))"
        ).path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd); unlink(path) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        #expect(Systemd.notify("READY=1\nSTATUS=testing", environment: ["NOTIFY_SOCKET": path]))
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        #expect(n > 0 && String(decoding: buffer[0..<max(0, n)], as: UTF8.self) == "READY=1\nSTATUS=testing")
        #expect(!Systemd.notify("READY=1", environment: [:]), "no NOTIFY_SOCKET, no notification")
        #expect(Systemd.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"]) == 15)
        #expect(
            Systemd.listeningSocket(environment: ["LISTEN_PID": "1", "LISTEN_FDS": "1"]) == nil,
            "another process's sockets")
    }

    @Test func unitsPassSystemdAnalyzeVerifyAndScoreSafe() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = temporaryDirectory("units")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // verify checks that ExecStart exists; point it at any executable present on every machine.
        let service = try String(contentsOf: root.appendingPathComponent("systemd/kindredd.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/kindredd", with: "/bin/true")
        try service.write(to: directory.appendingPathComponent("kindredd.service"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            at: root.appendingPathComponent("systemd/kindredd.socket"),
            to: directory.appendingPathComponent("kindredd.socket"))
        let refit = try String(
            contentsOf: root.appendingPathComponent("systemd/kindred-refit.service"), encoding: .utf8
        )
        .replacingOccurrences(of: "/usr/local/bin/kindred ", with: "/bin/true ")
        try refit.write(
            to: directory.appendingPathComponent("kindred-refit.service"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            at: root.appendingPathComponent("systemd/kindred-refit.timer"),
            to: directory.appendingPathComponent("kindred-refit.timer"))
        func run(_ arguments: [String]) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            process.currentDirectoryURL = directory
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, output)
        }
        let (verified, verifyOutput) = try run([
            "systemd-analyze", "verify", "kindredd.socket", "kindredd.service", "kindred-refit.service",
            "kindred-refit.timer",
        ])
        #expect(verified == 0 && verifyOutput.isEmpty, "\(verifyOutput)")
        // The user units (systemctl --user), verified the same way in a directory of their own.
        let user = directory.appendingPathComponent("user")
        try FileManager.default.createDirectory(at: user, withIntermediateDirectories: true)
        try String(contentsOf: root.appendingPathComponent("systemd/user/kindredd.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/kindredd", with: "/bin/true").write(
                to: user.appendingPathComponent("kindredd.service"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            at: root.appendingPathComponent("systemd/user/kindredd.socket"),
            to: user.appendingPathComponent("kindredd.socket"))
        let (userVerified, userOutput) = try run([
            "systemd-analyze", "verify", "user/kindredd.socket", "user/kindredd.service",
        ])
        #expect(userVerified == 0 && userOutput.isEmpty, "\(userOutput)")
        let (_, security) = try run(["systemd-analyze", "security", "--offline=true", "kindredd.service"])
        let score = security.split(separator: "\n").last { $0.contains("Overall exposure level") }
        #expect(score?.contains("SAFE") == true, "\(score ?? "no score")")
        let (_, refitSecurity) = try run(["systemd-analyze", "security", "--offline=true", "kindred-refit.service"])
        let refitScore = refitSecurity.split(separator: "\n").last { $0.contains("Overall exposure level") }
        #expect(refitScore?.contains("SAFE") == true, "\(refitScore ?? "no score")")
    }
}
