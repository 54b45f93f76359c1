import Foundation
import KindredCore
import KindredEngine
import KindredProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The Unix-socket server: one event loop does the I/O and framing; requests that touch the
/// catalog, the store or the index run on a thread pool, and heavy ones (`Request.isHeavy`) on a
/// smaller pool of their own with a bounded queue, so a flood of them never holds up the light
/// ones or PING. Answers are encoded on those pools too; the loop only copies bytes. Each
/// connection's answers are written in the order its requests came.
///
/// Limits (Schema/kindred.toml, [protocol]): connections at once; requests unanswered per
/// connection, past which kindredd stops reading from it; bytes waiting to be written to a
/// client, past which it stops reading too (write water marks), so a client that never reads its
/// answers cannot grow kindredd's memory.
public final class SocketServer: Sendable {
    /// The server's life, one phase at a time; STATUS reports it as `server`.
    public enum Phase: String, Sendable {
        /// Made, not yet accepting.
        case starting
        /// Accepting and answering.
        case serving
        /// Shutting down: no new connections; answers in flight are written.
        case draining
        case stopped
    }

    public var phase: Phase { service.serverPhase.withLock { $0 } }

    public struct Limits: Sendable {
        public var maxLineLength = 64 * 1024
        public var maxConnections = 1024
        /// Of `maxConnections`, how many only an admin peer may take.
        public var adminReservedConnections = 8
        public var maxInFlight = 16
        public var heavyWorkers = 1
        public var heavyQueue = 16
        /// Unwritten answer bytes per connection: reading stops above `high`, resumes below `low`.
        public var writeLow = 256 * 1024
        public var writeHigh = 1024 * 1024
        /// Bytes of SIMILAR-IMAGE payloads held at once over every connection (`PayloadBudget`).
        public var imageBytesInFlight = 256 << 20
        /// Seconds a client may take none of the answers waiting above the water mark before its
        /// connection is closed (`SendWatch`).
        public var sendTimeoutSeconds = 60
        /// The rate a client must take them at meanwhile (`SendWatch`); 0: any byte will do.
        public var sendMinBytesPerSecond = 1024

        public init() {}

        public init(_ configuration: Configuration) {
            maxLineLength = configuration.maxLineBytes
            maxConnections = configuration.maxConnections
            adminReservedConnections = configuration.adminReservedConnections
            maxInFlight = configuration.maxInFlight
            heavyWorkers = configuration.heavyWorkers
            heavyQueue = configuration.heavyQueue
            imageBytesInFlight = configuration.imageBytesInFlight
            sendTimeoutSeconds = configuration.sendTimeoutSeconds
            sendMinBytesPerSecond = configuration.sendMinBytesPerSecond
        }
    }

    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    let heavy: HeavyPool
    let service: CommandService
    let logger: Logger
    let limits: Limits
    let connections = Atomic<Int>(0)
    let imageBytes: PayloadBudget

    public init(
        service: CommandService, limits: Limits = Limits(),
        workers: Int = max(2, ProcessInfo.processInfo.activeProcessorCount),
        logger: Logger
    ) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        pool = NIOThreadPool(numberOfThreads: workers)
        pool.start()
        heavy = HeavyPool(threads: limits.heavyWorkers, queue: limits.heavyQueue)
        imageBytes = PayloadBudget(limit: max(1, limits.imageBytesInFlight))
        self.service = service
        self.logger = logger
        self.limits = limits
    }

    /// Binds `path` (replacing a stale socket file), mode 0660, and starts accepting; or, given
    /// the socket systemd opened (socket activation), accepts on that.
    public func start(path: String, inheritedSocket: Int32? = nil) throws -> Channel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            // A client may send its requests and shut down its writing side (`nc -U -N`, a
            // script's here-document); it still gets every answer before the close.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: limits.writeLow, high: limits.writeHigh))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(server: self))
                }
            }
        if let inheritedSocket {
            let channel = try bootstrap.withBoundSocket(inheritedSocket).wait()
            logger.info("listening on the socket systemd passed", metadata: ["socket": "\(path)"])
            service.serverPhase.withLock { $0 = .serving }
            return channel
        }
        try SocketPath.validate(path)
        // A kindredd answering on this path (for another state directory) keeps it: binding would
        // unlink its socket and leave it running where no client can reach it. A socket file no
        // one listens on (its server died) is replaced.
        if let other = try? SocketClient(path: path) {
            throw SocketInUse(path: path, pid: other.peer?.pid)
        }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o750])
        let channel = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).wait()
        chmod(path, 0o660)
        logger.info("listening", metadata: ["socket": "\(path)"])
        service.serverPhase.withLock { $0 = .serving }
        return channel
    }

    /// Another server answers on the socket path.
    public struct SocketInUse: Error, CustomStringConvertible {
        public let path: String
        public let pid: Int32?
        public var description: String {
            "another kindredd\(pid.map { " (pid \($0))" } ?? "") answers on \(path); stop it, or give this one another --socket"
        }
    }

    /// Whether the event loop runs a task: what the systemd watchdog is fed on. A stuck loop blocks
    /// this call, so no ping is sent and systemd restarts the daemon.
    public func isResponsive() -> Bool {
        (try? group.next().submit { true }.wait()) == true
    }

    public func shutdown() throws {
        service.serverPhase.withLock { $0 = .draining }
        defer { service.serverPhase.withLock { $0 = .stopped } }
        try group.syncShutdownGracefully()
        try pool.syncShutdownGracefully()
        heavy.shutdown()
    }
}
