import Foundation
import KindredProtocol
import Logging
import NIOCore
import NIOPosix

/// The Unix-socket server: one event loop, a line framer per connection, answers in order.
public final class SocketServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let service: CommandService
    let logger: Logger
    let maxLineLength: Int

    public init(service: CommandService, maxLineLength: Int = 64 * 1024, logger: Logger) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.service = service
        self.logger = logger
        self.maxLineLength = maxLineLength
    }

    /// Binds `path` (replacing a stale socket file), mode 0660, and starts accepting; or, given
    /// the socket systemd opened (socket activation), accepts on that.
    public func start(path: String, inheritedSocket: Int32? = nil) throws -> Channel {
        let service = self.service, logger = self.logger, limit = maxLineLength
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(service: service, maxLineLength: limit, logger: logger))
                }
            }
        if let inheritedSocket {
            let channel = try bootstrap.withBoundSocket(inheritedSocket).wait()
            logger.info("listening on the socket systemd passed", metadata: ["socket": "\(path)"])
            return channel
        }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o750])
        let channel = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).wait()
        chmod(path, 0o660)
        logger.info("listening", metadata: ["socket": "\(path)"])
        return channel
    }

    /// Whether the event loop runs a task: what the systemd watchdog is fed on. A stuck loop blocks
    /// this call, so no ping is sent and systemd restarts the daemon.
    public func isResponsive() -> Bool {
        (try? group.next().submit { true }.wait()) == true
    }

    public func shutdown() throws {
        try group.syncShutdownGracefully()
    }
}

/// One connection: bytes → lines → requests → answers, written in order.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let service: CommandService
    let parser: RequestParser
    let logger: Logger
    var framer: LineFramer
    var format = OutputFormat.text
    /// A SIMILAR-IMAGE whose bytes are still arriving.
    var pendingImage: (k: Int, space: SearchSpace)?

    init(service: CommandService, maxLineLength: Int, logger: Logger) {
        self.service = service
        parser = RequestParser(maxLineLength: maxLineLength)
        framer = LineFramer(maxLineLength: maxLineLength)
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var closing = false
        let limit = framer.maxLineLength  // read before feeding: the closure runs while the framer is mutated
        framer.feed(buffer.readableBytesView) { event -> Int? in
            guard !closing else { return nil }
            switch event {
            case .tooLong(let bytes):
                send(.failure(ProtocolError(.tooLong, "request line of \(bytes) bytes exceeds the \(limit)-byte limit")), context)
            case .payload(let bytes):
                if let query = pendingImage { send(service.answerImage(bytes, k: query.k, space: query.space), context) }
                pendingImage = nil
            case .line(let line):
                let request: Request
                do throws(ProtocolError) {
                    request = try parser.parse(line)
                } catch {
                    send(.failure(error), context)
                    return nil
                }
                switch request {
                case .quit:
                    send(.success(Response(columns: [], rows: [])), context)
                    closing = true
                case .format(let newFormat):
                    format = newFormat
                    send(.success(Response(columns: ["format"], rows: [[newFormat.rawValue]])), context)
                case .similarImage(let byteCount, let k, let space):
                    pendingImage = (k, space)
                    return byteCount
                default:
                    send(service.answer(request), context)
                }
            }
            return nil
        }
        if closing {
            // Flush the answers, then close: the close is queued behind the writes on this loop.
            context.flush()
            context.close(promise: nil)
        } else {
            context.flush()
        }
    }

    private func send(_ answer: Result<Response, ProtocolError>, _ context: ChannelHandlerContext) {
        let text = ResponseEncoder.encode(answer, as: format)
        var out = context.channel.allocator.buffer(capacity: text.utf8.count)
        out.writeString(text)
        context.write(wrapOutboundOut(out), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
