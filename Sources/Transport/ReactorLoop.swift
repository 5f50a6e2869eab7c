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
        let id: SocketID
        let handle: UnsafeMutableRawPointer
        let spec: SocketSpec
        let inbox: Mailbox<InboundMessage>
        var pending: Deque<[OwnedFrame]> = []
        /// The PAIR end of this socket's monitor, when `spec.onEvent` is set.
        var monitor: UnsafeMutableRawPointer?
        /// Peer addresses of accepted connections, by file descriptor (monitor events name the fd).
        var peers: [Int32: String] = [:]
    }

    /// Frames at least this large are handed to libzmq without a copy.
    static let zeroCopyThreshold = 32 * 1024
    /// Messages read from one socket before the others get a turn, and the bytes at which a
    /// batch ends early (so one turn holds at most about this much in received messages).
    static let receiveBatch = 128
    static let receiveBatchBytes = 64 << 20
    /// Messages that may wait for a DEALER/PUB queue to drain before new ones are dropped.
    static let maxPending = 4096

    unowned let reactor: SocketReactor
    let context: UnsafeMutableRawPointer
    var sockets: [SocketID: Entry] = [:]
    var stopping = false
    /// Drivers stepped after every round, and what each waits for.
    var drivers: [(driver: any SocketThreadDriver, done: CheckedContinuation<Void, Never>)] = []
    /// The ZAP handler's REP socket (bound when the reactor has an authenticator).
    var zap: UnsafeMutableRawPointer?
    var logger: Logger { reactor.logger }

    init(reactor: SocketReactor, context: UnsafeMutableRawPointer) {
        self.reactor = reactor
        self.context = context
    }

    func run() {
        if reactor.authenticator != nil { startZAP() }
        var order: [SocketID] = []
        var monitors: [SocketID] = []
        var items: [zmq_pollitem_t] = []
        while !stopping {
            for command in reactor.takeCommands() { execute(command) }
            if stopping { break }
            let timeout = stepDrivers()
            for command in reactor.takeCommands() { execute(command) }
            if stopping { break }
            order.removeAll(keepingCapacity: true)
            monitors.removeAll(keepingCapacity: true)
            items.removeAll(keepingCapacity: true)
            items.append(zmq_pollitem_t(socket: nil, fd: reactor.wakeFD, events: Int16(ZMQ_POLLIN), revents: 0))
            items.append(zmq_pollitem_t(socket: zap, fd: -1, events: zap == nil ? 0 : Int16(ZMQ_POLLIN), revents: 0))
            for (id, entry) in sockets {
                var events: Int16 = 0
                if entry.spec.kind != .publisher, entry.spec.handler != nil || entry.inbox.reserveRoom() { events |= Int16(ZMQ_POLLIN) }
                if !entry.pending.isEmpty { events |= Int16(ZMQ_POLLOUT) }
                order.append(id)
                items.append(zmq_pollitem_t(socket: entry.handle, fd: 0, events: events, revents: 0))
            }
            for (id, entry) in sockets where entry.monitor != nil {
                monitors.append(id)
                items.append(zmq_pollitem_t(socket: entry.monitor, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
            }
            let rc = zmq_poll(&items, Int32(items.count), timeout)
            if rc < 0 {
                let err = ZMQError.last("zmq_poll")
                if err.errno == EINTR { continue }
                // The context's owner is terminating it (this reactor shares it): close up.
                if err.errno == ETERM { break }
                logger.error("socket thread stops: \(err)")
                break
            }
            if items[0].revents & Int16(ZMQ_POLLIN) != 0 {
                var value: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &value) { read(reactor.wakeFD, $0.baseAddress, 8) }
            }
            if items[1].revents & Int16(ZMQ_POLLIN) != 0 { answerZAP() }
            for (i, id) in order.enumerated() {
                let revents = items[i + 2].revents
                if revents & Int16(ZMQ_POLLOUT) != 0 { flushPending(id) }
                if revents & Int16(ZMQ_POLLIN) != 0 { receive(id) }
            }
            for (i, id) in monitors.enumerated() where items[order.count + 2 + i].revents & Int16(ZMQ_POLLIN) != 0 {
                readMonitor(id)
            }
        }
        finish()
    }

    // MARK: drivers

    /// Steps every driver; the poll timeout in milliseconds their waits allow (-1: none).
    private func stepDrivers() -> Int {
        guard !drivers.isEmpty else { return -1 }
        var timeout = -1
        var i = 0
        while i < drivers.count {
            switch drivers[i].driver.step(SocketThread(loop: self)) {
            case .finished:
                drivers.remove(at: i).done.resume()
                continue
            case .wait(let wait?):
                // zmq_poll counts whole milliseconds: round up, so a driver is never stepped early.
                let c = wait.components
                let ms = max(0, Int((Double(c.seconds) * 1e3 + Double(c.attoseconds) / 1e15).rounded(.up)))
                timeout = timeout < 0 ? ms : min(timeout, ms)
            case .wait(nil):
                break
            }
            i += 1
        }
        return timeout
    }

    func openNow(_ spec: SocketSpec) throws -> OpenedSocket {
        let (id, inbox) = reactor.newSocket(spec)
        let endpoints = try register(id, spec, inbox)
        return OpenedSocket(id: id, boundEndpoints: endpoints, inbox: inbox)
    }

    /// Opens the socket and adds it to the polled set; its bound endpoints.
    private func register(_ id: SocketID, _ spec: SocketSpec, _ inbox: Mailbox<InboundMessage>) throws -> [String] {
        let (handle, monitor, endpoints) = try openSocket(spec, id: id)
        sockets[id] = Entry(id: id, handle: handle, spec: spec, inbox: inbox, monitor: monitor)
        return endpoints
    }

    func closeNow(_ id: SocketID, linger: Int32?) {
        guard var entry = sockets.removeValue(forKey: id) else { return }
        if linger.map({ $0 != 0 }) ?? true { flushPending(&entry) }
        closeSocket(entry, linger: linger)
    }

    // MARK: commands

    func execute(_ command: SocketReactor.Command) {
        switch command {
        case .drive(let driver, let done):
            drivers.append((driver, done))
        case .open(let id, let spec, let inbox, let continuation):
            do {
                continuation.resume(returning: try register(id, spec, inbox))
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
            closeNow(id, linger: linger)
            continuation.resume()
        case .stop:
            stopping = true
        }
    }

    private func openSocket(_ spec: SocketSpec, id: SocketID) throws -> (UnsafeMutableRawPointer, UnsafeMutableRawPointer?, [String]) {
        let type: Int32 =
            switch spec.kind {
            case .router: ZMQ_ROUTER
            case .dealer: ZMQ_DEALER
            case .publisher: ZMQ_PUB
            case .subscriber: ZMQ_SUB
            }
        guard let handle = zmq_socket(context, type) else { throw ZMQError.last("zmq_socket") }
        var monitor: UnsafeMutableRawPointer?
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
            try setInt(handle, ZMQ_HANDSHAKE_IVL, spec.handshakeMilliseconds, "ZMQ_HANDSHAKE_IVL")
            switch spec.security {
            case .plaintext:
                break
            case .curveServer(let secretKey, let domain):
                try setInt(handle, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
                try setString(handle, ZMQ_CURVE_SECRETKEY, secretKey, "ZMQ_CURVE_SECRETKEY")
                try setString(handle, ZMQ_ZAP_DOMAIN, domain, "ZMQ_ZAP_DOMAIN")
            case .curveClient(let serverKey, let publicKey, let secretKey):
                try setString(handle, ZMQ_CURVE_SERVERKEY, serverKey, "ZMQ_CURVE_SERVERKEY")
                try setString(handle, ZMQ_CURVE_PUBLICKEY, publicKey, "ZMQ_CURVE_PUBLICKEY")
                try setString(handle, ZMQ_CURVE_SECRETKEY, secretKey, "ZMQ_CURVE_SECRETKEY")
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
            // The monitor watches from before the first bind or connect, so it sees every event.
            if spec.onEvent != nil {
                // Reactors may share a context (in-process workers): the address names this one too.
                let address = "inproc://tributary-monitor-\(UInt(bitPattern: ObjectIdentifier(self).hashValue))-\(id.raw)"
                let events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                    | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                guard zmq_socket_monitor(handle, address, events) == 0 else { throw ZMQError.last("zmq_socket_monitor") }
                guard let pair = zmq_socket(context, ZMQ_PAIR) else { throw ZMQError.last("zmq_socket(monitor)") }
                var zero: Int32 = 0
                zmq_setsockopt(pair, ZMQ_LINGER, &zero, 4)
                guard zmq_connect(pair, address) == 0 else {
                    zmq_close(pair)
                    throw ZMQError.last("zmq_connect(\(address))")
                }
                monitor = pair
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
            return (handle, monitor, bound)
        } catch {
            // Every socket opened here is closed again: one left open would block zmq_ctx_term.
            var zero: Int32 = 0
            if let monitor {
                zmq_socket_monitor(handle, nil, 0)
                zmq_close(monitor)
            }
            zmq_setsockopt(handle, ZMQ_LINGER, &zero, 4)
            zmq_close(handle)
            throw error
        }
    }

    private func setString(_ handle: UnsafeMutableRawPointer, _ option: Int32, _ value: String, _ name: String) throws {
        let rc = Array(value.utf8).withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError.last("zmq_setsockopt(\(name))") }
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
        if let monitor = entry.monitor {
            zmq_socket_monitor(entry.handle, nil, 0)
            zmq_close(monitor)
        }
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
            if err.hostUnreachable, i == 0, entry.spec.kind == .router, let onEvent = entry.spec.onEvent {
                onEvent(entry.id, .unroutable(routingID: frames[0]))
            }
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
        while received < Self.receiveBatch, bytes < Self.receiveBatchBytes, entry.spec.handler != nil || entry.inbox.reserveRoom() {
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

    // MARK: monitor and ZAP

    /// Reads the socket's pending monitor events (two frames each: a 6-byte event and value,
    /// then the endpoint) and hands them to its `onEvent`.
    private func readMonitor(_ id: SocketID) {
        guard var entry = sockets[id], let monitor = entry.monitor, let onEvent = entry.spec.onEvent else { return }
        while true {
            var header = [UInt8](repeating: 0, count: 6)
            let n = zmq_recv(monitor, &header, 6, ZMQ_DONTWAIT)
            if n < 0 { break }
            var endpoint = [UInt8](repeating: 0, count: 256)
            _ = zmq_recv(monitor, &endpoint, 256, 0)
            guard n >= 6 else { continue }
            let event = Int32(UInt16(header[0]) | UInt16(header[1]) << 8)
            let value = Int32(bitPattern: UInt32(header[2]) | UInt32(header[3]) << 8 | UInt32(header[4]) << 16 | UInt32(header[5]) << 24)
            let reported: TransportEvent?
            switch event {
            case ZMQ_EVENT_ACCEPTED:
                let peer = Self.peerAddress(fd: value)
                entry.peers[value] = peer
                reported = .accepted(peer: peer)
            case ZMQ_EVENT_CONNECTED: reported = .connected
            case ZMQ_EVENT_DISCONNECTED: reported = .disconnected(peer: entry.peers.removeValue(forKey: value) ?? "")
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: reported = .handshakeSucceeded
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: reported = .handshakeFailedAuth(status: Int(value))
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: reported = .handshakeFailedProtocol(code: Int(value))
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: reported = .handshakeFailedOther(errno: Int(value))
            default: reported = nil
            }
            if let reported { onEvent(id, reported) }
        }
        sockets[id] = entry
    }

    /// "IP:port" of a connected socket's peer.
    static func peerAddress(fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
        guard ok else { return "" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var port = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &port, socklen_t(port.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard rc == 0 else { return "" }
        let h = String(cString: host)
        return (h.contains(":") ? "[\(h)]" : h) + ":" + String(cString: port)
    }

    private func startZAP() {
        guard let rep = zmq_socket(context, ZMQ_REP) else {
            logger.error("ZAP handler: \(ZMQError.last("zmq_socket(ZMQ_REP)")); CURVE peers cannot be authenticated")
            return
        }
        var zero: Int32 = 0
        zmq_setsockopt(rep, ZMQ_LINGER, &zero, 4)
        guard zmq_bind(rep, "inproc://zeromq.zap.01") == 0 else {
            logger.error("ZAP handler: \(ZMQError.last("zmq_bind(inproc://zeromq.zap.01)")); CURVE peers cannot be authenticated")
            zmq_close(rep)
            return
        }
        zap = rep
    }

    /// Answers the pending ZAP requests (ZeroMQ RFC 27) with the reactor's authenticator.
    private func answerZAP() {
        guard let zap, let authenticator = reactor.authenticator else { return }
        while true {
            var parts: [[UInt8]] = []
            var more: Int32 = 1
            while more != 0 && parts.count < 16 {
                let frame = ZMQFrame()
                if zmq_msg_recv(frame.msg, zap, parts.isEmpty ? ZMQ_DONTWAIT : 0) < 0 { return }
                parts.append(frame.bytes)
                more = zmq_msg_more(frame.msg)
            }
            // version, request id, domain, address, identity, mechanism, credentials…
            guard parts.count >= 6 else { continue }
            func text(_ i: Int) -> String { String(decoding: parts[i], as: UTF8.self) }
            let mechanism = text(5)
            let request = ZAPRequest(
                domain: text(2), address: text(3), mechanism: mechanism,
                publicKey: mechanism == "CURVE" && parts.count > 6 ? CurveKeyPair.z85(parts[6]) : nil)
            let decision = authenticator(request)
            let (status, statusText, userID): (String, String, String)
            switch decision {
            case .allow(let user):
                (status, statusText, userID) = ("200", "OK", user)
                reactor.stats.withLock { $0.handshakesAllowed += 1 }
            case .deny(let reason):
                (status, statusText, userID) = ("400", reason, "")
                reactor.stats.withLock { $0.handshakesDenied += 1 }
            }
            let reply: [[UInt8]] = [Array("1.0".utf8), parts[1], Array(status.utf8), Array(statusText.utf8.prefix(255)), Array(userID.utf8), []]
            for (i, part) in reply.enumerated() {
                _ = part.withUnsafeBytes { zmq_send(zap, $0.baseAddress, $0.count, i < reply.count - 1 ? ZMQ_SNDMORE : 0) }
            }
        }
    }

    // MARK: stopping

    private func finish() {
        // Flush what was queued before the stop, then close with LINGER so libzmq can
        // finish writing within that bound; only then terminate the context.
        for command in reactor.takeCommands() { execute(command) }
        for id in Array(sockets.keys) { flushPending(id) }
        for (_, entry) in sockets { closeSocket(entry) }
        sockets.removeAll()
        if let zap {
            zmq_close(zap)
            self.zap = nil
        }
        for (_, done) in drivers { done.resume() }
        drivers.removeAll()
        if reactor.ownsContext {
            while zmq_ctx_term(context) != 0 && zmq_errno() == EINTR {}
        }
        Foundation.close(reactor.wakeFD)
        reactor.markFinished()
    }
}
