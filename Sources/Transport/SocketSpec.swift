/// Everything needed to open one ZeroMQ socket. Defaults suit Tributary's traffic.
public struct SocketSpec: Sendable {
    public enum Kind: Sendable {
        case router, dealer, publisher, subscriber
    }

    public var kind: Kind
    /// Endpoints to bind (`tcp://host:port`, `tcp://host:*` for an ephemeral port, `ipc://path`).
    public var bind: [String] = []
    /// Endpoints to connect to.
    public var connect: [String] = []
    /// SUB prefixes. Empty means everything.
    public var subscriptions: [[UInt8]] = []
    /// ZMQ_ROUTING_ID for DEALER sockets (nil: libzmq picks one).
    public var routingID: [UInt8]? = nil
    /// ZMQ_LINGER in milliseconds: how long `close` may keep flushing.
    public var lingerMilliseconds: Int32 = 500
    /// ZMQ_SNDHWM / ZMQ_RCVHWM in messages. Credits, not these, bound memory; the marks are a
    /// second fence sized for multi-MiB chunks (the default 1000 × 4 MiB grew a sender to 1.2 GB).
    public var sendHighWaterMark: Int32 = 64
    public var receiveHighWaterMark: Int32 = 64
    /// ZMQ_MAXMSGSIZE: a single frame above this makes libzmq drop the connection. -1 = none.
    public var maxFrameBytes: Int64 = -1
    /// ZMQ_ROUTER_MANDATORY: sending to an unknown peer fails instead of vanishing.
    public var routerMandatory = true
    /// Frames kept per message; more mark the message as truncated.
    public var maxFrames = 64
    /// Messages the socket thread may hold for the consumer before it stops reading.
    public var inboxCapacity = 256
    /// When set, received messages go to this function, called on the socket thread with
    /// each batch read in one turn, instead of to the inbox. For consumers whose work is
    /// short and never blocks (the learner's decode-validate-admit step): it saves a thread
    /// hop per message. Its replies, sent from inside it, leave in the same turn. It gets the
    /// socket's own id, so it can reply even before `open` has returned to its caller.
    public var handler: (@Sendable (SocketID, [InboundMessage]) -> Void)? = nil
    /// ZMQ_RECONNECT_IVL / ZMQ_RECONNECT_IVL_MAX (libzmq's own TCP reconnects).
    public var reconnectMilliseconds: Int32 = 100
    public var reconnectMaxMilliseconds: Int32 = 2000
    /// Bytes of received messages the inbox holds at most (beside `inboxCapacity` messages);
    /// one message is always taken when the inbox is empty, whatever its size.
    public var inboxBytes = 64 << 20
    /// ZMQ_HANDSHAKE_IVL: a connection that has not finished its handshake (CURVE included)
    /// within this is dropped, so half-open connections cannot pile up.
    public var handshakeMilliseconds: Int32 = 5000
    /// Plaintext, or CURVE as a server or a client.
    public var security = Security.plaintext
    /// libzmq's socket-monitor events for this socket (connections, handshakes), delivered on
    /// the socket thread. Keep it short; it must not block.
    public var onEvent: (@Sendable (SocketID, TransportEvent) -> Void)? = nil

    /// How a socket authenticates and encrypts (ZeroMQ's ZMTP security mechanisms).
    public enum Security: Sendable, Equatable {
        case plaintext
        /// A CURVE server (the learner): its own secret key; peers are authenticated by the
        /// reactor's ZAP handler under `domain` (the socket's role: "data", "weights", "control").
        case curveServer(secretKey: String, domain: String)
        /// A CURVE client: the server's public key and its own key pair.
        case curveClient(serverKey: String, publicKey: String, secretKey: String)
    }

    public init(kind: Kind) {
        self.kind = kind
    }
}
