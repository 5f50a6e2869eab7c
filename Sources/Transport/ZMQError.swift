import CZeroMQ

/// A failed libzmq call: the errno it left and the call that failed (as NIO's `IOError`).
public struct ZMQError: Error, Sendable, CustomStringConvertible, Equatable {
    public let errno: Int32
    public let call: String

    public init(errno: Int32, call: String) {
        self.errno = errno
        self.call = call
    }

    static func last(_ call: String) -> ZMQError { ZMQError(errno: zmq_errno(), call: call) }

    public var message: String { String(cString: zmq_strerror(errno)) }
    public var description: String { "\(call) failed: \(message) (errno \(errno))" }

    /// The send would block (high-water mark reached or no peer yet).
    public var wouldBlock: Bool { errno == EAGAIN }
    /// ROUTER_MANDATORY: the routing identity names no connected peer.
    public var hostUnreachable: Bool { errno == EHOSTUNREACH }
}
