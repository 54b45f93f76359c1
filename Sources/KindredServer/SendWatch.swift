import NIOCore

/// The rule for clients that stop reading: a connection whose answers wait above its write water
/// mark, and whose client takes fewer than `[protocol] send_min_bytes_per_second` ×
/// `[protocol] send_timeout_seconds` bytes of them in that many seconds, is closed. Backpressure
/// alone bounds what such a client costs (`max_in_flight` answers, the water mark), but not for
/// how long: it kept heavy places (`HeavyPool.Place`, held until an answer is written) and its
/// answers' memory until it closed, so one client could hold every heavy place and leave the
/// others "busy". nginx's `send_timeout` is a timeout between two successive writes, not on the
/// whole answer, so a slow reader of a large answer is never cut off while it keeps reading; a
/// timeout alone is met by one byte a period, though, so a trickle reader could hold its places
/// for ever. The minimum rate (Apache's `MinRate` in mod_reqtimeout) is what a client must keep
/// up while answers wait for it; 0 keeps the timeout alone.
///
/// Progress is judged from the channel's buffered bytes (`ChannelOptions.bufferedWritableBytes`)
/// at two looks `timeout` apart: the client took what was buffered at the first, plus what was
/// queued since, less what is buffered now.
struct SendWatch {
    /// The look due next; nil while the channel is below its water mark.
    var scheduled: Scheduled<Void>?
    private var bufferedAtLook = 0
    private var queuedSinceLook = 0
    /// Bytes the client took between the last two looks.
    private(set) var takenSinceLook = 0

    var isWatching: Bool { scheduled != nil }

    /// Bytes written to the channel (not yet necessarily to the socket).
    mutating func queued(_ bytes: Int) { queuedSinceLook += bytes }

    /// Starts watching from what the channel buffers now.
    mutating func start(buffered: Int) {
        bufferedAtLook = buffered
        queuedSinceLook = 0
    }

    mutating func stop() {
        scheduled?.cancel()
        scheduled = nil
    }

    /// Whether the client took at least `required` bytes since the last look (and at least one,
    /// or all it was owed if that is less); the next look is judged from now.
    mutating func clientKeptUp(buffered: Int, required: Int) -> Bool {
        defer { start(buffered: buffered) }
        let owed = bufferedAtLook + queuedSinceLook
        takenSinceLook = owed - buffered
        return takenSinceLook > 0 && takenSinceLook >= min(required, owed)
    }
}

extension ConnectionHandler {
    /// Watches sending while the channel is above its write water mark (`SendWatch`).
    func watchSending(_ context: ChannelHandlerContext) {
        guard context.channel.isActive, !context.channel.isWritable else { return sendWatch.stop() }
        guard !sendWatch.isWatching, let buffered = buffered(context) else { return }
        sendWatch.start(buffered: buffered)
        scheduleSendLook(context)
    }

    private func scheduleSendLook(_ context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        sendWatch.scheduled = context.eventLoop.scheduleTask(in: .seconds(Int64(server.limits.sendTimeoutSeconds))) {
            let (handler, context) = bound.value
            handler.sendWatch.scheduled = nil
            handler.lookAtSending(context)
        }
    }

    private func lookAtSending(_ context: ChannelHandlerContext) {
        guard context.channel.isActive, !context.channel.isWritable, let buffered = buffered(context) else { return }
        let limits = server.limits
        let required = limits.sendMinBytesPerSecond * limits.sendTimeoutSeconds
        if sendWatch.clientKeptUp(buffered: buffered, required: required) { return scheduleSendLook(context) }
        logger.notice(
            "closing a connection whose client does not take its answers",
            metadata: [
                "seconds": "\(limits.sendTimeoutSeconds)", "bytes_required": "\(required)",
                "bytes_taken": "\(sendWatch.takenSinceLook)",
                "unsent_bytes": "\(buffered)",
                "uid": "\(peer.map { String($0.uid) } ?? "unknown")",
            ])
        context.close(promise: nil)
    }

    /// What the channel holds unsent; nil where it cannot tell, and then nothing is closed.
    private func buffered(_ context: ChannelHandlerContext) -> Int? {
        try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)
    }
}
