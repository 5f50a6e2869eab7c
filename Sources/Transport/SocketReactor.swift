import CZeroMQ
import DequeModule
import Foundation
import Logging
import Protocol
import Locking

/// Names a socket owned by a `SocketReactor`.
public struct SocketID: Hashable, Sendable, CustomStringConvertible {
    public let raw: Int
    public var description: String { "socket#\(raw)" }
}

/// A socket that the reactor opened.
public struct OpenedSocket: Sendable {
    public let id: SocketID
    /// The endpoints actually bound (ephemeral ports resolved), in `SocketSpec.bind` order.
    public let boundEndpoints: [String]
    /// Messages received on this socket, in arrival order.
    public let inbox: Mailbox<InboundMessage>
}

/// Counters of what the socket thread did. Monotonic.
public struct ReactorStats: Sendable {
    public var messagesSent: UInt64 = 0
    public var messagesReceived: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    /// ROUTER_MANDATORY sends to a peer that is gone.
    public var sendsUnroutable: UInt64 = 0
    /// Sends dropped because the peer's queue stayed full (ROUTER) or the reactor stopped.
    public var sendsDropped: UInt64 = 0
    public var sendsFailed: UInt64 = 0
    /// Messages with more frames than allowed; the extra frames were discarded.
    public var messagesTruncated: UInt64 = 0
    /// ZAP requests answered: allowed and denied.
    public var handshakesAllowed: UInt64 = 0
    public var handshakesDenied: UInt64 = 0
}

/// The thread that owns a process's ZeroMQ sockets (one per process, and one per in-process
/// worker).
///
/// ZeroMQ sockets are not thread-safe, so every socket lives on this thread, which runs
/// `zmq_poll` over all of them plus an eventfd. Other threads and tasks talk to it
/// through a command queue (wakes it through the eventfd) and read what it received
/// from one bounded `Mailbox` per socket (or the socket's `handler` gets it on this thread);
/// `SocketThreadDriver`s run on it between polls. One context per process, owned by the first
/// reactor; an in-process worker's reactor shares it (`sharingContextOf`) on a thread of its own.
public final class SocketReactor: Sendable {
    enum Command: @unchecked Sendable {
        case open(SocketID, SocketSpec, Mailbox<InboundMessage>, CheckedContinuation<[String], any Error>)
        case drive(any SocketThreadDriver, CheckedContinuation<Void, Never>)
        case send(SocketID, [OwnedFrame])
        case close(SocketID, Int32?, CheckedContinuation<Void, Never>)
        case stop
    }

    struct Queue {
        var commands: [Command] = []
        var wakePending = false
        var stopped = false
        var nextID = 0
    }

    let name: String
    let logger: Logger
    /// Decides CURVE handshakes (ZAP) on the socket thread; nil: no ZAP handler.
    let authenticator: (@Sendable (ZAPRequest) -> ZAPDecision)?
    let queue = Mutex(Queue())
    let stats = Mutex(ReactorStats())
    let wakeFD: Int32
    private let finished = OneShotSignal()
    /// The ZeroMQ context; sockets of one context can reach each other over inproc://.
    let context: ContextHandle
    /// Whether this reactor created the context (and terminates it when it stops).
    let ownsContext: Bool

    struct ContextHandle: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
    }

    /// Creates the ZeroMQ context and starts the socket thread. With an `authenticator`, the
    /// thread also answers the context's ZAP requests (`inproc://zeromq.zap.01`): every CURVE
    /// server socket's handshakes are decided by it.
    ///
    /// `sharingContextOf`: a second socket thread on another reactor's context (so its sockets
    /// reach that reactor's over inproc://), for a worker running inside the learner's process:
    /// the worker acts on its own thread, not on the learner's. Shut it down before the other.
    public init(name: String, logger: Logger, authenticator: (@Sendable (ZAPRequest) -> ZAPDecision)? = nil,
                sharingContextOf parent: SocketReactor? = nil) throws {
        self.name = name
        self.logger = logger
        self.authenticator = authenticator
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw ZMQError(errno: errno, call: "eventfd") }
        self.wakeFD = fd
        if let parent {
            self.context = parent.context
            self.ownsContext = false
        } else {
            guard let context = zmq_ctx_new() else {
                Foundation.close(fd)
                throw ZMQError.last("zmq_ctx_new")
            }
            self.context = ContextHandle(pointer: context)
            self.ownsContext = true
        }
        let loop = ReactorLoop(reactor: self, context: context.pointer)
        let thread = Thread { loop.run() }
        thread.name = "zmq-\(name)"
        thread.start()
    }

    /// Current counters.
    public var currentStats: ReactorStats { stats.withLock { $0 } }

    /// Opens, configures, binds and connects a socket on the socket thread.
    public func open(_ spec: SocketSpec) async throws -> OpenedSocket {
        let (id, inbox) = newSocket(spec)
        let endpoints = try await withCheckedThrowingContinuation { (c: CheckedContinuation<[String], any Error>) in
            if !enqueue(.open(id, spec, inbox, c)) {
                c.resume(throwing: ZMQError(errno: ETERM, call: "open (reactor stopped)"))
            }
        }
        return OpenedSocket(id: id, boundEndpoints: endpoints, inbox: inbox)
    }

    /// Queues a message for sending. Never blocks; returns false once the reactor stopped.
    @discardableResult
    public func send(_ socket: SocketID, _ frames: [OwnedFrame]) -> Bool {
        enqueue(.send(socket, frames))
    }

    /// Queues several messages for one socket with one wake-up of the socket thread.
    @discardableResult
    public func send(_ socket: SocketID, messages: [[OwnedFrame]]) -> Bool {
        enqueue(messages.map { .send(socket, $0) })
    }

    /// A new socket's id and inbox (the socket itself is made on the socket thread).
    func newSocket(_ spec: SocketSpec) -> (SocketID, Mailbox<InboundMessage>) {
        let id: SocketID = queue.withLock { q in
            q.nextID += 1
            return SocketID(raw: q.nextID)
        }
        let inbox = Mailbox<InboundMessage>(capacity: spec.inboxCapacity, byteCapacity: spec.inboxBytes, weigh: { $0.byteCount }) {
            [weak self] in self?.wake()
        }
        return (id, inbox)
    }

    /// Runs `driver` on the socket thread (`SocketThreadDriver`) until its `step` says it is
    /// finished, or the reactor stops.
    public func drive(_ driver: any SocketThreadDriver) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if !enqueue(.drive(driver, c)) { c.resume() }
        }
    }

    /// Makes the socket thread step its drivers now (another thread changed what they read:
    /// a stop request, say).
    public func poke() { wake() }

    /// Closes one socket and its inbox. Messages still queued get `lingerMilliseconds`
    /// (default: the socket's `SocketSpec.lingerMilliseconds`) to leave; the rest are dropped.
    public func close(_ socket: SocketID, lingerMilliseconds: Int32? = nil) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if !enqueue(.close(socket, lingerMilliseconds, c)) { c.resume() }
        }
    }

    /// Flushes queued sends, closes every socket with its LINGER, terminates the context
    /// and ends the thread. Returns when all of that is done. Idempotent.
    public func shutdown() async {
        _ = enqueue(.stop)
        await finished.wait()
    }

    func markFinished() { finished.signal() }

    private func enqueue(_ command: Command) -> Bool {
        enqueue([command])
    }

    private func enqueue(_ commands: [Command]) -> Bool {
        let shouldWake: Bool? = queue.withLock { q in
            if q.stopped { return nil }
            for command in commands {
                if case .stop = command { q.stopped = true }
                q.commands.append(command)
            }
            defer { q.wakePending = true }
            return !q.wakePending
        }
        guard let shouldWake else { return false }
        if shouldWake { wake() }
        return true
    }

    func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(wakeFD, $0.baseAddress, 8) }
    }

    func takeCommands() -> [Command] {
        queue.withLock { q in
            q.wakePending = false
            defer { q.commands = [] }
            return q.commands
        }
    }
}

/// Code that runs on the socket thread itself, between its polls: a client whose every step is
/// short and that talks only through its own sockets (the rollout worker, which acts, sends
/// and receives on this one thread instead of handing each message across threads).
public protocol SocketThreadDriver: AnyObject, Sendable {
    /// Called on the socket thread when the driver is installed and after every round of the
    /// thread's loop (received messages handed to the sockets' handlers, commands carried out).
    func step(_ thread: SocketThread) -> DriverStep
}

public enum DriverStep: Sendable, Equatable {
    /// Call again after at most this long (nil: when a message, a command or `poke` arrives).
    case wait(Duration?)
    /// The driver is done; `SocketReactor.drive` returns.
    case finished
}

/// What a driver may do on the socket thread, synchronously. Valid only on that thread, during
/// a `step` or one of its sockets' handlers.
public struct SocketThread {
    unowned let loop: ReactorLoop

    /// Opens, configures, binds and connects a socket now.
    public func open(_ spec: SocketSpec) throws -> OpenedSocket {
        try loop.openNow(spec)
    }

    /// Sends one message now (or queues it while the socket's queue is full, as `send` does).
    public func send(_ socket: SocketID, _ frames: [OwnedFrame]) {
        loop.execute(.send(socket, frames))
    }

    /// Closes a socket; what it still has queued gets `lingerMilliseconds` to leave.
    public func close(_ socket: SocketID, lingerMilliseconds: Int32? = nil) {
        loop.closeNow(socket, linger: lingerMilliseconds)
    }
}
