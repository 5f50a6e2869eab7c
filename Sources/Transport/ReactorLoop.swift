import CZeroMQ
import DequeModule
import Foundation
import Logging
import Protocol

/// Owns one large outbound frame until libzmq has sent it (zero-copy send).
private final class FrameBox {
    let bytes: OwnedFrame
    init(_ bytes: OwnedFrame) { self.bytes = bytes }
}

private let releaseFrameBox: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, hint in
    if let hint { Unmanaged<FrameBox>.fromOpaque(hint).release() }
}

/// The socket thread's state. Handed to that thread once at start and used only there,
/// so it needs no locks (hence `@unchecked Sendable`).
final class ReactorLoop: @unchecked Sendable {
    struct Entry {
        let handle: UnsafeMutableRawPointer
        let spec: SocketSpec
        let inbox: Mailbox<InboundMessage>
        var pending: Deque<[OwnedFrame]> = []
    }

    /// Frames at least this large are handed to libzmq without a copy.
    static let zeroCopyThreshold = 32 * 1024
    /// Messages read from one socket before the others get a turn.
    static let receiveBatch = 128
    /// Messages that may wait for a DEALER/PUB queue to drain before new ones are dropped.
    static let maxPending = 4096

    unowned let reactor: SocketReactor
    let context: UnsafeMutableRawPointer
    var sockets: [SocketID: Entry] = [:]
    var stopping = false
    var logger: Logger { reactor.logger }

    init(reactor: SocketReactor, context: UnsafeMutableRawPointer) {
        self.reactor = reactor
        self.context = context
    }

    func run() {
        var order: [SocketID] = []
        var items: [zmq_pollitem_t] = []
        while !stopping {
            for command in reactor.takeCommands() { execute(command) }
            if stopping { break }
            order.removeAll(keepingCapacity: true)
            items.removeAll(keepingCapacity: true)
            items.append(zmq_pollitem_t(socket: nil, fd: reactor.wakeFD, events: Int16(ZMQ_POLLIN), revents: 0))
            for (id, entry) in sockets {
                var events: Int16 = 0
                if entry.spec.kind != .publisher, entry.inbox.reserveRoom() { events |= Int16(ZMQ_POLLIN) }
                if !entry.pending.isEmpty { events |= Int16(ZMQ_POLLOUT) }
                order.append(id)
                items.append(zmq_pollitem_t(socket: entry.handle, fd: 0, events: events, revents: 0))
            }
            let rc = zmq_poll(&items, Int32(items.count), -1)
            if rc < 0 {
                let err = ZMQError.last("zmq_poll")
                if err.errno == EINTR { continue }
                logger.error("socket thread stops: \(err)")
                break
            }
            if items[0].revents & Int16(ZMQ_POLLIN) != 0 {
                var value: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &value) { read(reactor.wakeFD, $0.baseAddress, 8) }
            }
            for (i, id) in order.enumerated() {
                let revents = items[i + 1].revents
                if revents & Int16(ZMQ_POLLOUT) != 0 { flushPending(id) }
                if revents & Int16(ZMQ_POLLIN) != 0 { receive(id) }
            }
        }
        finish()
    }

    // MARK: commands

    private func execute(_ command: SocketReactor.Command) {
        switch command {
        case .open(let id, let spec, let inbox, let continuation):
            do {
                let (handle, endpoints) = try openSocket(spec)
                sockets[id] = Entry(handle: handle, spec: spec, inbox: inbox)
                continuation.resume(returning: endpoints)
            } catch {
                inbox.close()
                continuation.resume(throwing: error)
            }
        case .send(let id, let frames):
            guard var entry = sockets[id] else {
                reactor.stats.withLock { $0.sendsDropped += 1 }
                return
            }
            if entry.pending.isEmpty, trySend(entry, frames) { return }
            if entry.spec.kind == .router {
                // Replies to one peer must not hold up the others: a peer whose queue is full
                // loses this message (counted); credits and heartbeats recover from it.
                reactor.stats.withLock { $0.sendsDropped += 1 }
                return
            }
            if entry.pending.count >= Self.maxPending {
                reactor.stats.withLock { $0.sendsDropped += 1 }
                logger.warning("\(id): \(entry.pending.count) messages wait to be sent; dropping one")
                return
            }
            entry.pending.append(frames)
            sockets[id] = entry
        case .close(let id, let linger, let continuation):
            if let entry = sockets.removeValue(forKey: id) {
                var entry = entry
                if linger.map({ $0 != 0 }) ?? true { flushPending(&entry) }
                closeSocket(entry, linger: linger)
            }
            continuation.resume()
        case .stop:
            stopping = true
        }
    }

    private func openSocket(_ spec: SocketSpec) throws -> (UnsafeMutableRawPointer, [String]) {
        let type: Int32 =
            switch spec.kind {
            case .router: ZMQ_ROUTER
            case .dealer: ZMQ_DEALER
            case .publisher: ZMQ_PUB
            case .subscriber: ZMQ_SUB
            }
        guard let handle = zmq_socket(context, type) else { throw ZMQError.last("zmq_socket") }
        do {
            try setInt(handle, ZMQ_LINGER, spec.lingerMilliseconds, "ZMQ_LINGER")
            try setInt(handle, ZMQ_SNDHWM, spec.sendHighWaterMark, "ZMQ_SNDHWM")
            try setInt(handle, ZMQ_RCVHWM, spec.receiveHighWaterMark, "ZMQ_RCVHWM")
            try setInt(handle, ZMQ_RECONNECT_IVL, spec.reconnectMilliseconds, "ZMQ_RECONNECT_IVL")
            try setInt(handle, ZMQ_RECONNECT_IVL_MAX, spec.reconnectMaxMilliseconds, "ZMQ_RECONNECT_IVL_MAX")
            var maxSize = spec.maxFrameBytes
            guard zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &maxSize, MemoryLayout<Int64>.size) == 0 else {
                throw ZMQError.last("zmq_setsockopt(ZMQ_MAXMSGSIZE)")
            }
            if spec.kind == .router, spec.routerMandatory {
                try setInt(handle, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY")
            }
            if let id = spec.routingID {
                let rc = id.withUnsafeBytes { zmq_setsockopt(handle, ZMQ_ROUTING_ID, $0.baseAddress, $0.count) }
                guard rc == 0 else { throw ZMQError.last("zmq_setsockopt(ZMQ_ROUTING_ID)") }
            }
            if spec.kind == .subscriber {
                for prefix in spec.subscriptions.isEmpty ? [[]] : spec.subscriptions {
                    let rc = prefix.withUnsafeBytes { zmq_setsockopt(handle, ZMQ_SUBSCRIBE, $0.baseAddress, $0.count) }
                    guard rc == 0 else { throw ZMQError.last("zmq_setsockopt(ZMQ_SUBSCRIBE)") }
                }
            }
            var bound: [String] = []
            for endpoint in spec.bind {
                guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError.last("zmq_bind(\(endpoint))") }
                var buffer = [CChar](repeating: 0, count: 1024)
                var size = buffer.count
                guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
                    throw ZMQError.last("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
                }
                bound.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            for endpoint in spec.connect {
                guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError.last("zmq_connect(\(endpoint))") }
            }
            return (handle, bound)
        } catch {
            var zero: Int32 = 0
            zmq_setsockopt(handle, ZMQ_LINGER, &zero, 4)
            zmq_close(handle)
            throw error
        }
    }

    private func setInt(_ handle: UnsafeMutableRawPointer, _ option: Int32, _ value: Int32, _ name: String) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError.last("zmq_setsockopt(\(name))")
        }
    }

    private func closeSocket(_ entry: Entry, linger: Int32? = nil) {
        var linger = linger ?? entry.spec.lingerMilliseconds
        zmq_setsockopt(entry.handle, ZMQ_LINGER, &linger, 4)
        zmq_close(entry.handle)
        entry.inbox.close()
        if !entry.pending.isEmpty {
            reactor.stats.withLock { $0.sendsDropped += UInt64(entry.pending.count) }
        }
    }

    // MARK: sending

    /// Sends one multipart message without blocking. False: it would block (nothing sent).
    private func trySend(_ entry: Entry, _ frames: [OwnedFrame]) -> Bool {
        for (i, frame) in frames.enumerated() {
            var flags = ZMQ_DONTWAIT
            if i < frames.count - 1 { flags |= ZMQ_SNDMORE }
            let ok = sendFrame(entry.handle, frame, flags)
            if ok { continue }
            let err = ZMQError.last("zmq_msg_send")
            if i == 0, err.wouldBlock { return false }
            // A multipart message is atomic for the high-water mark, so only the first frame
            // can block; anything else is a failure of the whole message.
            reactor.stats.withLock {
                if err.hostUnreachable { $0.sendsUnroutable += 1 } else { $0.sendsFailed += 1 }
            }
            if !err.hostUnreachable { logger.warning("send on \(entry.spec.kind) failed: \(err)") }
            return true
        }
        reactor.stats.withLock { $0.messagesSent += 1 }
        return true
    }

    private func sendFrame(_ handle: UnsafeMutableRawPointer, _ frame: OwnedFrame, _ flags: Int32) -> Bool {
        if frame.count < Self.zeroCopyThreshold {
            return frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) } >= 0
        }
        let box = FrameBox(frame)
        let hint = Unmanaged.passRetained(box).toOpaque()
        var msg = zmq_msg_t()
        let data = UnsafeMutableRawPointer(mutating: box.bytes.withUnsafeBytes { $0.baseAddress! })
        guard zmq_msg_init_data(&msg, data, frame.count, releaseFrameBox, hint) == 0 else {
            Unmanaged<FrameBox>.fromOpaque(hint).release()
            return false
        }
        if zmq_msg_send(&msg, handle, flags) >= 0 { return true }
        let saved = zmq_errno()
        zmq_msg_close(&msg)  // releases the box through the free function
        errno = saved
        return false
    }

    private func flushPending(_ id: SocketID) {
        guard var entry = sockets[id] else { return }
        flushPending(&entry)
        sockets[id] = entry
    }

    private func flushPending(_ entry: inout Entry) {
        while let next = entry.pending.first {
            guard trySend(entry, next) else { break }
            entry.pending.removeFirst()
        }
    }

    // MARK: receiving

    private func receive(_ id: SocketID) {
        guard let entry = sockets[id] else { return }
        var received = 0
        var bytes = 0
        var batch: [InboundMessage] = []
        while received < Self.receiveBatch, entry.spec.handler != nil || entry.inbox.reserveRoom() {
            guard let message = receiveMessage(entry) else { break }
            received += 1
            bytes += message.byteCount
            if message.truncated { reactor.stats.withLock { $0.messagesTruncated += 1 } }
            if entry.spec.handler != nil {
                batch.append(message)
            } else {
                _ = entry.inbox.offer(message)
            }
        }
        if let handler = entry.spec.handler, !batch.isEmpty {
            // This thread drains the commands right after: sends from the handler need no wake-up.
            reactor.queue.withLock { $0.wakePending = true }
            handler(id, batch)
            // What the handler sent is queued; send it now rather than after the next poll.
            for command in reactor.takeCommands() { execute(command) }
        }
        if received > 0 {
            reactor.stats.withLock {
                $0.messagesReceived += UInt64(received)
                $0.bytesReceived += UInt64(bytes)
            }
        }
    }

    private func receiveMessage(_ entry: Entry) -> InboundMessage? {
        var frames: [ZMQFrame] = []
        var truncated = false
        while true {
            let frame = ZMQFrame()
            let flags = frames.isEmpty && !truncated ? ZMQ_DONTWAIT : 0
            if zmq_msg_recv(frame.msg, entry.handle, flags) < 0 {
                let err = ZMQError.last("zmq_msg_recv")
                if !err.wouldBlock { logger.warning("receive failed: \(err)") }
                return frames.isEmpty ? nil : InboundMessage(frames: frames, truncated: true)
            }
            let more = zmq_msg_more(frame.msg) != 0
            if frames.count < entry.spec.maxFrames { frames.append(frame) } else { truncated = true }
            if !more { break }
        }
        return InboundMessage(frames: frames, truncated: truncated)
    }

    // MARK: stopping

    private func finish() {
        // Flush what was queued before the stop, then close with LINGER so libzmq can
        // finish writing within that bound; only then terminate the context.
        for command in reactor.takeCommands() { execute(command) }
        for id in Array(sockets.keys) { flushPending(id) }
        for (_, entry) in sockets { closeSocket(entry) }
        sockets.removeAll()
        while zmq_ctx_term(context) != 0 && zmq_errno() == EINTR {}
        Foundation.close(reactor.wakeFD)
        reactor.markFinished()
    }
}
