import Foundation
import KindredCore
import KindredEngine
import KindredProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// One connection: bytes → lines → requests → answers, written in order.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let server: SocketServer
    let parser: RequestParser
    var framer: LineFramer
    /// The format answers are written in: FORMAT changes it for the requests after it, so it is
    /// tracked in request order here, and each answer is encoded (off the loop) in its own.
    var format = OutputFormat.text
    /// What the connection reads next: request lines, the bytes of a SIMILAR-IMAGE (with the
    /// format of its answer and the room its bytes were given in `server.imageBytes`), or nothing
    /// more (after QUIT it closes once every answer is written).
    enum Expecting {
        case lines
        case image(SimilarQuery, format: OutputFormat, PayloadBudget.Claim)
        case nothing
    }
    var expecting = Expecting.lines
    /// Completes when every answer so far has been written; nil when none is outstanding.
    var tail: EventLoopFuture<Void>?
    /// The peer's credentials; nil until read (or when they cannot be).
    var peer: Peer?
    /// Requests read and not yet answered; reading pauses at `maxInFlight`.
    var inFlight = 0
    /// Whether this connection is counted in `server.connections` (until it goes inactive).
    var counted = false
    /// Whether `autoRead` is off (too many answers outstanding, or the client not reading).
    var readingPaused = false
    /// Bytes read but not yet framed: what follows the request that reached `maxInFlight` or
    /// filled the client's unread answers past the write water mark, framed as answers go out.
    /// Reading is off meanwhile, so this is at most a read or two. (One read can hold hundreds of
    /// pipelined requests; before, all of them were started at once, and the in-flight limit
    /// only stopped the next read.)
    var unread: ByteBuffer?
    /// Whether `frame` is running: an answer completed synchronously inside it must not re-enter.
    var framing = false
    /// Whether requests are read at all: false for a connection in the admins' reserve until its
    /// peer proves to be an admin.
    var admitted = true
    /// Whether the client has shut down its writing side: the connection closes once every
    /// request it sent (`unread` included) is answered.
    var inputEnded = false
    /// Whether the client takes its answers while they wait above the write water mark.
    var sendWatch = SendWatch()

    var service: CommandService { server.service }
    var logger: Logger { server.logger }

    init(server: SocketServer) {
        self.server = server
        parser = RequestParser(maxLineLength: server.limits.maxLineLength)
        framer = LineFramer(maxLineLength: server.limits.maxLineLength)
    }

    /// Reads the peer's credentials from the kernel (SO_PEERCRED) for the admin checks and the
    /// log, and turns away a connection past `maxConnections`, or past `maxConnections −
    /// adminReservedConnections` when its peer is not an admin: one user's idle connections must
    /// not lock the admins out (PostgreSQL keeps `superuser_reserved_connections` for the same).
    func channelActive(context: ChannelHandlerContext) {
        let open = server.connections.wrappingAdd(1, ordering: .relaxed).newValue
        counted = true
        let limits = server.limits
        if open > limits.maxConnections {
            return turnAway("too many connections (\(limits.maxConnections)); try again later", open: open, context)
        }
        let reserved = open > limits.maxConnections - limits.adminReservedConnections
        if reserved {
            // Nothing is read until the peer is known to be an admin.
            admitted = false
            readingPaused = true
            context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        }
        if let provider = context.channel as? SocketOptionProvider {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let logger = self.logger
            provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
                .whenComplete { (result: Result<Peer, any Error>) in
                    let (handler, context) = bound.value
                    switch result {
                    case .success(let peer):
                        handler.peer = peer
                        logger.info(
                            "connection", metadata: ["pid": "\(peer.pid)", "uid": "\(peer.uid)", "gid": "\(peer.gid)"])
                    case .failure(let error):
                        logger.info("connection", metadata: ["peer": "unknown (\(error))"])
                    }
                    handler.admitIfReserved(open: open, context)
                }
        } else {
            admitIfReserved(open: open, context)
        }
        context.fireChannelActive()
    }

    /// For a connection in the admins' reserve, once its peer is known (or cannot be): reading
    /// starts for an admin, anyone else is turned away.
    private func admitIfReserved(open: Int, _ context: ChannelHandlerContext) {
        guard !admitted else { return }
        guard let peer, service.policy.isAdmin(peer) else {
            let limits = server.limits
            return turnAway(
                "too many connections: the last \(limits.adminReservedConnections) of \(limits.maxConnections) are kept for admin peers; try again later",
                open: open, context)
        }
        admitted = true
        updateReading(context)
    }

    /// Answers `ERR unavailable` with `reason` and closes: a connection over a limit.
    private func turnAway(_ reason: String, open: Int, _ context: ChannelHandlerContext) {
        admitted = false  // nothing more is read from it
        logger.warning(
            "too many connections; refusing one", metadata: ["open": "\(open - 1)", "reason": "\(reason)"])
        write(text: ResponseEncoder.encode(.failure(ProtocolError(.unavailable, reason)), as: .text), context)
        context.flush()
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        sendWatch.stop()
        if counted { server.connections.wrappingSubtract(1, ordering: .relaxed) }
        counted = false
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var held = unread {
            held.writeBuffer(&buffer)
            unread = held
        } else {
            unread = buffer
        }
        frame(context)
    }

    /// Frames and starts the requests in `unread` while another may start (`mayStart`).
    private func frame(_ context: ChannelHandlerContext) {
        guard !framing, admitted else { return }
        framing = true
        while var buffer = unread, mayStart(context) {
            unread = nil
            let consumed = framer.feed(buffer.readableBytesView) { event -> LineFramer.Next in
                let next = start(event, context)
                if case .lines = next, !mayStart(context) { return .pause }
                return next
            }
            buffer.moveReaderIndex(forwardBy: consumed)
            if buffer.readableBytes > 0 { unread = buffer }
            if case .nothing = expecting { unread = nil }
        }
        framing = false
        context.flush()
        if case .nothing = expecting {
            // Close once every outstanding answer is written.
            after(context) { _, context in context.close(promise: nil) }
        } else if inputEnded && unread == nil {
            after(context) { _, context in context.close(promise: nil) }
        }
        updateReading(context)
    }

    /// Starts answering one framed event; says what the framer reads next.
    private func start(_ event: LineFramer.Event, _ context: ChannelHandlerContext) -> LineFramer.Next {
        if case .nothing = expecting { return .lines }
        let service = self.service
        switch event {
        case .tooLong(let bytes):
            answer(
                .failure(
                    ProtocolError(
                        .tooLong,
                        // The limit from `server`: `framer` is being mutated while this runs.
                        "request line of \(bytes) bytes exceeds the \(server.limits.maxLineLength)-byte limit")),
                context)
        case .payload(let bytes):
            if case .image(let query, let format, let claim) = expecting {
                // The claim goes with the bytes. It is released once the answer is computed,
                // before it is written: the closure holding it is freed only after the loop has
                // written the answer, and a client that sent its next image on reading it was
                // refused as busy (a CI run caught it). A refused task gives it back when dropped.
                answer(heavy: true, context, format: format) {
                    defer { claim.release() }
                    return service.answerImage(bytes, query)
                }
            }
            expecting = .lines
        case .line(let line):
            let request: Request
            do throws(ProtocolError) {
                request = try parser.parse(line)
                try service.authorize(request, peer: peer)
            } catch {
                answer(.failure(error), context)
                return .lines
            }
            switch request {
            case .quit:
                answer(.success(Response(columns: [], rows: [])), context)
                expecting = .nothing
            case .format(let newFormat):
                format = newFormat  // this answer and those after it
                answer(.success(Response(columns: ["format"], rows: [[newFormat.rawValue]])), context)
            case .similarImage(let byteCount, let query):
                switch server.imageBytes.claim(byteCount) {
                case .success(let claim):
                    expecting = .image(query, format: format, claim)
                    return .payload(byteCount)
                case .failure(let refusal):
                    answer(.failure(refusal), context)
                    return .skip(byteCount)
                }
            case .refit(let wait):
                answer(on: context) { promise in service.refit(wait: wait) { promise.succeed($0) } }
            case .ping:
                // Answered on the event loop: PING measures the loop's own responsiveness.
                answer(service.answer(request), context)
            case .help:
                let text = Self.encodedHelp[format]!
                write(encoded: context.eventLoop.makeSucceededFuture(text), in: context)
            default:
                answer(heavy: request.isHeavy, context, format: format) { service.answer(request) }
            }
        }
        return .lines
    }

    /// Whether another request may start: fewer than `maxInFlight` are unanswered and the client
    /// takes what is written to it (the channel is below its write water mark).
    private func mayStart(_ context: ChannelHandlerContext) -> Bool {
        inFlight < server.limits.maxInFlight && context.channel.isWritable
    }

    /// Reading goes on while a request may start and none read is waiting; otherwise the kernel's
    /// socket buffer fills and the client waits.
    private func updateReading(_ context: ChannelHandlerContext) {
        let wanted = admitted && mayStart(context) && unread == nil
        guard wanted == readingPaused else { return }
        readingPaused = !wanted
        context.channel.setOption(.autoRead, value: wanted).whenComplete { _ in }
        if wanted { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        watchSending(context)
        if unread != nil { frame(context) } else { updateReading(context) }
        context.fireChannelWritabilityChanged()
    }

    /// Runs `body` on this loop once every answer queued so far is written.
    private func after(
        _ context: ChannelHandlerContext, _ body: @escaping (ConnectionHandler, ChannelHandlerContext) -> Void
    ) {
        guard let previous = tail else { return body(self, context) }
        let bound = NIOLoopBound((self, context, body), eventLoop: context.eventLoop)
        chain(
            previous.map {
                let (handler, context, body) = bound.value
                body(handler, context)
                context.flush()  // the read that queued it has flushed long ago
            }, context)
    }

    /// Writes an answer that is ready now, behind any still being computed.
    private func answer(_ result: Result<Response, ProtocolError>, _ context: ChannelHandlerContext) {
        write(encoded: context.eventLoop.makeSucceededFuture(ResponseEncoder.encode(result, as: format)), in: context)
    }

    /// Computes and encodes an answer on a pool (the heavy one when `heavy`) and writes it in turn.
    private func answer(
        heavy: Bool, _ context: ChannelHandlerContext, format: OutputFormat,
        _ work: @escaping @Sendable () -> Result<Response, ProtocolError>
    ) {
        let encoded: @Sendable () -> String = { ResponseEncoder.encode(work(), as: format) }
        if heavy {
            let refusal = ProtocolError(
                .unavailable,
                "busy: \(server.heavy.threads + server.heavy.queue) heavy requests are running, waiting or being sent; try again shortly"
            )
            let (answer, place) = server.heavy.run(on: context.eventLoop, encoded) {
                ResponseEncoder.encode(.failure(refusal), as: format)
            }
            write(encoded: answer, in: context, holding: place)
        } else {
            write(encoded: server.pool.runIfActive(eventLoop: context.eventLoop, encoded), in: context)
        }
    }

    /// An answer some other thread completes (a REFIT that waits for its run), written in turn.
    private func answer(
        on context: ChannelHandlerContext, _ start: (EventLoopPromise<Result<Response, ProtocolError>>) -> Void
    ) {
        let promise = context.eventLoop.makePromise(of: Result<Response, ProtocolError>.self)
        start(promise)
        let format = self.format
        write(encoded: promise.futureResult.map { ResponseEncoder.encode($0, as: format) }, in: context)
    }

    /// Writes an answer once it is computed and every answer before it is written; `place` (a
    /// heavy request's) is kept until the socket has taken the whole answer or the write failed.
    private func write(
        encoded computed: EventLoopFuture<String>, in context: ChannelHandlerContext,
        holding place: HeavyPool.Place? = nil
    ) {
        inFlight += 1
        let previous = tail ?? context.eventLoop.makeSucceededVoidFuture()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        chain(
            previous.and(computed).map { _, text in
                let (handler, context) = bound.value
                let written = place.map { place in
                    let promise = context.eventLoop.makePromise(of: Void.self)
                    promise.futureResult.whenComplete { _ in withExtendedLifetime(place) {} }
                    return promise
                }
                handler.write(text: text, context, promise: written)
                context.flush()
                handler.inFlight -= 1
                if handler.unread != nil { handler.frame(context) } else { handler.updateReading(context) }
            }, context)
    }

    private func chain(_ future: EventLoopFuture<Void>, _ context: ChannelHandlerContext) {
        tail = future
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        future.whenComplete { _ in
            if bound.value.tail === future { bound.value.tail = nil }
        }
    }

    /// HELP, encoded once per format. It is answered on the loop, and encoding its rows each time
    /// cost ~20 µs (release): 200 clients pipelining 50 HELPs each and hanging up held a newcomer's
    /// first PING for 224 ms; a flood of HELPs now costs what a flood of PINGs does.
    static let encodedHelp = Dictionary(
        uniqueKeysWithValues: OutputFormat.allCases.map {
            ($0, ResponseEncoder.encode(.success(VerbRegistry.help), as: $0))
        })

    private func write(text: String, _ context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        var out = context.channel.allocator.buffer(capacity: text.utf8.count)
        out.writeString(text)
        sendWatch.queued(out.readableBytes)
        context.write(wrapOutboundOut(out), promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .some(ChannelEvent.inputClosed) = event as? ChannelEvent else {
            return context.fireUserInboundEventTriggered(event)
        }
        inputEnded = true
        // Requests still unread are answered first; `frame` closes after the last of them.
        if unread == nil { after(context) { _, context in context.close(promise: nil) } }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
