/// The message types of the wire protocol, as carried in byte 3 of every header frame.
///
/// The numbers are part of the contract (docs/protocol.md) and never change meaning.
public enum MessageType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 1
    case welcome = 2
    case trajectoryChunk = 3
    case credit = 4
    case reject = 5
    case heartbeat = 6
    case goodbye = 7
    case weightsAvailable = 8
    case getWeights = 9
    case weights = 10
    case statusRequest = 11
    case statusReply = 12

    public var description: String {
        switch self {
        case .hello: "Hello"
        case .welcome: "Welcome"
        case .trajectoryChunk: "TrajectoryChunk"
        case .credit: "Credit"
        case .reject: "Reject"
        case .heartbeat: "Heartbeat"
        case .goodbye: "Goodbye"
        case .weightsAvailable: "WeightsAvailable"
        case .getWeights: "GetWeights"
        case .weights: "Weights"
        case .statusRequest: "StatusRequest"
        case .statusReply: "StatusReply"
        }
    }
}

/// The fixed 4-byte header frame that starts every message: `'T' 'R' version type`.
///
/// It is plain bytes rather than protobuf so that a receiver can check the protocol
/// version and the message type before it decodes anything, and so that a SUB
/// socket can subscribe to one message type by prefix.
public struct WireHeader: Sendable, Equatable {
    public static let magic: (UInt8, UInt8) = (0x54, 0x52)  // "TR"
    public static let byteCount = 4

    public var version: UInt8
    /// The raw type byte; `type` is nil when this build does not know it.
    public var rawType: UInt8

    public init(version: UInt8 = ProtocolVersion.current, type: MessageType) {
        self.version = version
        self.rawType = type.rawValue
    }

    public init(version: UInt8, rawType: UInt8) {
        self.version = version
        self.rawType = rawType
    }

    public var type: MessageType? { MessageType(rawValue: rawType) }

    public var bytes: [UInt8] { [Self.magic.0, Self.magic.1, version, rawType] }

    /// Parses a header frame. Returns nil when it is not a Tributary header.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.byteCount, bytes[0] == Self.magic.0, bytes[1] == Self.magic.1 else {
            return nil
        }
        self.version = bytes[2]
        self.rawType = bytes[3]
    }
}

/// Protocol versions this build speaks.
public enum ProtocolVersion {
    /// The version this build writes.
    public static let current: UInt8 = 1
    /// Every version this build can read and write, oldest first.
    public static let supported: [UInt32] = [1]

    /// The highest version both sides speak, or nil when there is none.
    public static func negotiate(peer: [UInt32], ours: [UInt32] = supported) -> UInt32? {
        Set(peer).intersection(ours).max()
    }
}
