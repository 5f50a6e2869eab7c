import CZeroMQ
import Protocol

/// One received frame, still in ZeroMQ's memory.
///
/// Owning the `zmq_msg_t` lets the learner validate and keep tensor payloads without
/// copying them into Swift arrays (a copy costs 15–25 % of throughput at 256 KiB+).
/// The frame is immutable once received; `zmq_msg_close` in `deinit` is safe from any
/// thread because libzmq reference-counts shared message content atomically.
public final class ZMQFrame: MessageFrame, @unchecked Sendable {
    let msg: UnsafeMutablePointer<zmq_msg_t>

    init() {
        msg = .allocate(capacity: 1)
        zmq_msg_init(msg)
    }

    deinit {
        zmq_msg_close(msg)
        msg.deallocate()
    }

    public var count: Int { zmq_msg_size(msg) }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(msg), count: zmq_msg_size(msg)))
    }

    /// The frame's bytes as an array (one copy; for small frames such as routing ids).
    public var bytes: [UInt8] { withUnsafeBytes { [UInt8]($0) } }

    /// A metadata property of the connection the frame arrived on (`zmq_msg_gets`), e.g.
    /// "Peer-Address", or "User-Id" (what the ZAP handler named the peer's key).
    func property(_ name: String) -> String? {
        guard let value = zmq_msg_gets(msg, name) else { return nil }
        return String(cString: value)
    }
}

/// A multipart message as received from one socket.
public struct InboundMessage: Sendable {
    /// On a ROUTER socket, frame 0 is the sender's routing identity.
    public var frames: [ZMQFrame]
    /// True when the peer sent more frames than `SocketSpec.maxFrames`; the rest were discarded.
    public var truncated: Bool
    public var byteCount: Int { frames.reduce(0) { $0 + $1.count } }

    /// The connection's address as the transport saw it (TCP: the peer's IP), "" when unknown.
    public var peerAddress: String { frames.last?.property("Peer-Address") ?? "" }

    /// Under CURVE, the user id the ZAP handler gave the peer's key (its enrolled name); nil
    /// on a plaintext connection.
    public var userID: String? {
        guard let id = frames.last?.property("User-Id"), !id.isEmpty else { return nil }
        return id
    }
}
