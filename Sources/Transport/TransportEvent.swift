/// What libzmq's socket monitor reports about a socket's connections (ZMQ_EVENT_*). An
/// oversize frame shows as `disconnected`: libzmq 4.3 closes the connection and reports
/// nothing more specific.
public enum TransportEvent: Sendable, Equatable {
    /// A peer connected to a bound socket (its address, as the kernel saw it).
    case accepted(peer: String)
    /// A connecting socket reached its peer.
    case connected
    /// A connection closed: the peer left, a frame above ZMQ_MAXMSGSIZE, a protocol error.
    case disconnected(peer: String)
    case handshakeSucceeded
    /// The ZAP handler refused the peer's key (ZAP status code, e.g. 400).
    case handshakeFailedAuth(status: Int)
    /// A handshake that broke the protocol: a wrong CURVE server key, one side without CURVE.
    case handshakeFailedProtocol(code: Int)
    /// A handshake that failed without detail (e.g. timed out), with errno.
    case handshakeFailedOther(errno: Int)
    /// A ROUTER (with ZMQ_ROUTER_MANDATORY) could not route a message to this routing identity:
    /// its connection is gone (the peer closed its socket, died, or reconnected under a new
    /// identity). Not from the monitor: reported by the send that failed.
    case unroutable(routingID: [UInt8])

    /// "auth", "protocol" or "other" for a failed handshake; nil otherwise.
    public var handshakeFailureKind: String? {
        switch self {
        case .handshakeFailedAuth: "auth"
        case .handshakeFailedProtocol: "protocol"
        case .handshakeFailedOther: "other"
        default: nil
        }
    }
}

/// One ZAP request (ZeroMQ RFC 27) as the reactor's authenticator sees it.
public struct ZAPRequest: Sendable, Equatable {
    /// The socket's ZMQ_ZAP_DOMAIN (its role: "data", "weights", "control").
    public var domain: String
    /// The peer's IP address.
    public var address: String
    /// "CURVE", "PLAIN" or "NULL".
    public var mechanism: String
    /// The client's public key in Z85 (CURVE), nil for other mechanisms.
    public var publicKey: String?
}

/// The answer: allow under a user id (what `InboundMessage.userID` then says), or refuse.
public enum ZAPDecision: Sendable, Equatable {
    case allow(userID: String)
    case deny(reason: String)
}
