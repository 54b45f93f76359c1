import Foundation
import KindredProtocol
import Logging
import NIOCore
import NIOPosix

/// The Unix-socket server: one event loop does the I/O and framing; requests that touch the
/// catalog, the store or the index run on a thread pool, so a slow one (an image to embed, a
/// duplicate search) never holds up other connections. Each connection's answers are written in
/// the order its requests came.
public final class SocketServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    let service: CommandService
    let logger: Logger
    let maxLineLength: Int

    public init(service: CommandService, maxLineLength: Int = 64 * 1024, workers: Int = max(2, ProcessInfo.processInfo.activeProcessorCount),
                logger: Logger) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        pool = NIOThreadPool(numberOfThreads: workers)
        pool.start()
        self.service = service
        self.logger = logger
        self.maxLineLength = maxLineLength
    }

    /// Binds `path` (replacing a stale socket file), mode 0660, and starts accepting; or, given
    /// the socket systemd opened (socket activation), accepts on that.
    public func start(path: String, inheritedSocket: Int32? = nil) throws -> Channel {
        let service = self.service, logger = self.logger, limit = maxLineLength, pool = self.pool
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            // A client may send its requests and shut down its writing side (`nc -U -N`, a
            // script's here-document); it still gets every answer before the close.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(service: service, pool: pool, maxLineLength: limit, logger: logger))
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
        try pool.syncShutdownGracefully()
    }
}

/// One connection: bytes → lines → requests → answers, written in order.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let service: CommandService
    let pool: NIOThreadPool
    let parser: RequestParser
    let logger: Logger
    var framer: LineFramer
    var format = OutputFormat.text
    /// A SIMILAR-IMAGE whose bytes are still arriving.
    var pendingImage: (k: Int, space: SearchSpace)?
    /// Completes when every answer so far has been written; nil when none is outstanding.
    var tail: EventLoopFuture<Void>?

    init(service: CommandService, pool: NIOThreadPool, maxLineLength: Int, logger: Logger) {
        self.service = service
        self.pool = pool
        parser = RequestParser(maxLineLength: maxLineLength)
        framer = LineFramer(maxLineLength: maxLineLength)
        self.logger = logger
    }

    /// Logs who connected: the peer's pid, uid and gid from the kernel (SO_PEERCRED), which a
    /// client cannot forge, so an operator can tell which user or script asked what.
    func channelActive(context: ChannelHandlerContext) {
        if let provider = context.channel as? SocketOptionProvider {
            let logger = self.logger
            provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)).whenComplete { (result: Result<PeerCredentials, any Error>) in
                switch result {
                case .success(let peer): logger.info("connection", metadata: ["pid": "\(peer.pid)", "uid": "\(peer.uid)", "gid": "\(peer.gid)"])
                case .failure(let error): logger.info("connection", metadata: ["peer": "unknown (\(error))"])
                }
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var closing = false
        let limit = framer.maxLineLength  // read before feeding: the closure runs while the framer is mutated
        let service = self.service
        framer.feed(buffer.readableBytesView) { event -> Int? in
            guard !closing else { return nil }
            switch event {
            case .tooLong(let bytes):
                answer(.failure(ProtocolError(.tooLong, "request line of \(bytes) bytes exceeds the \(limit)-byte limit")), context)
            case .payload(let bytes):
                if let query = pendingImage { answer(on: context) { service.answerImage(bytes, k: query.k, space: query.space) } }
                pendingImage = nil
            case .line(let line):
                let request: Request
                do throws(ProtocolError) {
                    request = try parser.parse(line)
                } catch {
                    answer(.failure(error), context)
                    return nil
                }
                switch request {
                case .quit:
                    answer(.success(Response(columns: [], rows: [])), context)
                    closing = true
                case .format(let newFormat):
                    // Takes effect for this answer and those after it, in order.
                    after(context) { handler, _ in handler.format = newFormat }
                    answer(.success(Response(columns: ["format"], rows: [[newFormat.rawValue]])), context)
                case .similarImage(let byteCount, let k, let space):
                    pendingImage = (k, space)
                    return byteCount
                case .refit(let wait):
                    answer(on: context) { promise in service.refit(wait: wait) { promise.succeed($0) } }
                case .ping:
                    // Answered on the event loop: PING measures the loop's own responsiveness.
                    answer(service.answer(request), context)
                case .help:
                    after(context) { handler, context in handler.write(text: Self.encodedHelp[handler.format]!, context) }
                default:
                    answer(on: context) { service.answer(request) }
                }
            }
            return nil
        }
        context.flush()
        if closing {
            // Close once every outstanding answer is written.
            after(context) { _, context in context.close(promise: nil) }
        }
    }

    /// Runs `body` on this loop once every answer queued so far is written.
    private func after(_ context: ChannelHandlerContext, _ body: @escaping (ConnectionHandler, ChannelHandlerContext) -> Void) {
        guard let previous = tail else { return body(self, context) }
        let bound = NIOLoopBound((self, context, body), eventLoop: context.eventLoop)
        chain(previous.map {
            let (handler, context, body) = bound.value
            body(handler, context)
            context.flush()  // the read that queued it has flushed long ago
        }, context)
    }

    /// Writes an answer that is ready now, behind any still being computed.
    private func answer(_ result: Result<Response, ProtocolError>, _ context: ChannelHandlerContext) {
        after(context) { handler, context in handler.write(result, context) }
    }

    /// Computes an answer on the pool and writes it in turn.
    private func answer(on context: ChannelHandlerContext, _ work: @escaping @Sendable () -> Result<Response, ProtocolError>) {
        write(pool.runIfActive(eventLoop: context.eventLoop, work), in: context)
    }

    /// An answer some other thread completes (a REFIT that waits for its run), written in turn.
    private func answer(on context: ChannelHandlerContext, _ start: (EventLoopPromise<Result<Response, ProtocolError>>) -> Void) {
        let promise = context.eventLoop.makePromise(of: Result<Response, ProtocolError>.self)
        start(promise)
        write(promise.futureResult, in: context)
    }

    private func write(_ computed: EventLoopFuture<Result<Response, ProtocolError>>, in context: ChannelHandlerContext) {
        let previous = tail ?? context.eventLoop.makeSucceededVoidFuture()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        chain(previous.and(computed).map { _, result in
            let (handler, context) = bound.value
            handler.write(result, context)
            context.flush()
        }, context)
    }

    private func chain(_ future: EventLoopFuture<Void>, _ context: ChannelHandlerContext) {
        tail = future
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        future.whenComplete { _ in
            if bound.value.tail === future { bound.value.tail = nil }
        }
    }

    private func write(_ answer: Result<Response, ProtocolError>, _ context: ChannelHandlerContext) {
        write(text: ResponseEncoder.encode(answer, as: format), context)
    }

    /// HELP, encoded once per format. It is answered on the loop, and encoding its rows each time
    /// cost ~20 µs (release): 200 clients pipelining 50 HELPs each and hanging up held a newcomer's
    /// first PING for 224 ms; a flood of HELPs now costs what a flood of PINGs does.
    static let encodedHelp = Dictionary(uniqueKeysWithValues: OutputFormat.allCases.map {
        ($0, ResponseEncoder.encode(.success(CommandService.help), as: $0))
    })

    private func write(text: String, _ context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: text.utf8.count)
        out.writeString(text)
        context.write(wrapOutboundOut(out), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .some(ChannelEvent.inputClosed) = event as? ChannelEvent else { return context.fireUserInboundEventTriggered(event) }
        after(context) { _, context in context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// glibc's `struct ucred` (pid_t, uid_t, gid_t), which Swift does not import because it sits
/// behind _GNU_SOURCE; the kernel fills it for SO_PEERCRED.
struct PeerCredentials: Sendable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}
