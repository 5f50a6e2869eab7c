import SwiftProtobuf

/// The body of one protocol message, typed.
public enum WireBody: Sendable, Equatable {
    case hello(Tributary_V1_Hello)
    case welcome(Tributary_V1_Welcome)
    case trajectoryChunk(Tributary_V1_TrajectoryChunk)
    case credit(Tributary_V1_Credit)
    case reject(Tributary_V1_Reject)
    case heartbeat(Tributary_V1_Heartbeat)
    case goodbye(Tributary_V1_Goodbye)
    case weightsAvailable(Tributary_V1_WeightsAvailable)
    case getWeights(Tributary_V1_GetWeights)
    case weights(Tributary_V1_Weights)
    case statusRequest(Tributary_V1_StatusRequest)
    case statusReply(Tributary_V1_StatusReply)

    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .trajectoryChunk: .trajectoryChunk
        case .credit: .credit
        case .reject: .reject
        case .heartbeat: .heartbeat
        case .goodbye: .goodbye
        case .weightsAvailable: .weightsAvailable
        case .getWeights: .getWeights
        case .weights: .weights
        case .statusRequest: .statusRequest
        case .statusReply: .statusReply
        }
    }

    var message: any SwiftProtobuf.Message {
        switch self {
        case .hello(let m): m
        case .welcome(let m): m
        case .trajectoryChunk(let m): m
        case .credit(let m): m
        case .reject(let m): m
        case .heartbeat(let m): m
        case .goodbye(let m): m
        case .weightsAvailable(let m): m
        case .getWeights(let m): m
        case .weights(let m): m
        case .statusRequest(let m): m
        case .statusReply(let m): m
        }
    }
}

/// A decoded message: its header version, its typed body and the frames that
/// follow the body (tensor payloads, still in the receiver's memory).
public struct DecodedMessage: Sendable {
    public var version: UInt8
    public var body: WireBody
    public var tensorFrames: [any MessageFrame]
    /// Bytes of all frames, header included.
    public var byteCount: Int
}

/// Size limits a receiver enforces before and while decoding.
public struct WireLimits: Sendable {
    /// Largest message, all frames together (docs/protocol.md "Limits").
    public var maxMessageBytes: Int
    /// Most tensor frames one message may carry.
    public var maxTensorFrames: Int

    public init(maxMessageBytes: Int = 64 << 20, maxTensorFrames: Int = 32) {
        self.maxMessageBytes = maxMessageBytes
        self.maxTensorFrames = maxTensorFrames
    }

    /// The largest protobuf body of a message type, checked before the body is decoded: no
    /// legitimate Hello is bigger than a few KiB (every string in it has a limit, `FieldLimits`),
    /// so a 30 MiB one is refused without spending the seconds decoding it would take. nil:
    /// only the whole-message limit applies (the learner's own replies, which it decodes only
    /// on the worker side).
    public static func maxBodyBytes(_ type: MessageType) -> Int? {
        switch type {
        case .hello: 16 << 10
        case .goodbye: 4 << 10
        case .heartbeat, .getWeights, .statusRequest: 1 << 10
        // Up to T × B episode statistics of ~30 bytes each at the largest chunk, and its strings.
        case .trajectoryChunk: 4 << 20
        case .welcome, .credit, .reject, .weightsAvailable, .weights, .statusReply: nil
        }
    }
}

/// Turns typed messages into frames and frames back into typed messages.
///
/// Frame layout of every message: `[header(4 bytes)] [protobuf body] [tensor frame 0] ...`.
/// On a ROUTER socket the routing identity precedes these; callers strip it.
public enum WireCodec {
    /// Encodes a body with the current protocol version, followed by `tensors`.
    public static func encode(
        _ body: WireBody,
        tensors: [OwnedFrame] = [],
        version: UInt8 = ProtocolVersion.current
    ) -> [OwnedFrame] {
        var frames: [OwnedFrame] = [WireHeader(version: version, type: body.type).bytes]
        frames.reserveCapacity(2 + tensors.count)
        // Serialising a message with no unknown required fields cannot fail.
        let bytes: [UInt8] = try! body.message.serializedBytes()
        frames.append(bytes)
        frames.append(contentsOf: tensors)
        return frames
    }

    /// A Reject, always in version 1 layout (docs/protocol.md "Version negotiation").
    public static func reject(
        _ error: ProtocolError,
        rejectedType: UInt8 = 0,
        sequence: UInt64 = 0,
        creditsReturned: UInt32 = 0
    ) -> [OwnedFrame] {
        var r = Tributary_V1_Reject()
        r.code = error.code.wire
        r.reason = error.reason
        r.rejectedType = UInt32(rejectedType)
        r.sequence = sequence
        r.creditsReturned = creditsReturned
        return encode(.reject(r), version: 1)
    }

    /// Reads the header only. Used to answer a message whose body cannot be trusted.
    public static func peekHeader(_ frames: some Collection<any MessageFrame>) -> WireHeader? {
        guard let first = frames.first else { return nil }
        return first.withUnsafeBytes { WireHeader(bytes: $0) }
    }

    /// Decodes and checks one message. Never traps on any input.
    public static func decode(
        _ frames: some Collection<any MessageFrame>,
        limits: WireLimits = WireLimits()
    ) throws(ProtocolError) -> DecodedMessage {
        guard frames.count >= 2 else {
            throw ProtocolError(.malformed, "expected a header frame and a body frame, got \(frames.count) frame(s)")
        }
        var iterator = frames.makeIterator()
        let headerFrame = iterator.next()!
        let bodyFrame = iterator.next()!
        guard let header = headerFrame.withUnsafeBytes({ WireHeader(bytes: $0) }) else {
            throw ProtocolError(.malformed, "header frame is not 'T' 'R' version type (\(headerFrame.count) bytes)")
        }
        var total = 0
        for frame in frames { total += frame.count }
        guard total <= limits.maxMessageBytes else {
            throw ProtocolError(.oversize, "message has \(total) bytes, limit is \(limits.maxMessageBytes)")
        }
        let tensorCount = frames.count - 2
        guard tensorCount <= limits.maxTensorFrames else {
            throw ProtocolError(.malformed, "message has \(tensorCount) tensor frames, limit is \(limits.maxTensorFrames)")
        }
        guard let type = header.type else {
            throw ProtocolError(.unknownType, "unknown message type \(header.rawType)")
        }
        guard ProtocolVersion.supported.contains(UInt32(header.version)) else {
            throw ProtocolError(
                .unsupportedVersion,
                "message is protocol version \(header.version); this side speaks \(ProtocolVersion.supported)")
        }
        if let limit = WireLimits.maxBodyBytes(type), bodyFrame.count > limit {
            throw ProtocolError(.oversize, "the \(type) body has \(bodyFrame.count) bytes, the limit for a \(type) is \(limit)")
        }
        let body: WireBody
        do {
            body = try bodyFrame.withUnsafeBytes { raw throws -> WireBody in try decodeBody(type, raw) }
        } catch {
            throw ProtocolError(.malformed, "\(type) body does not decode: \(error)")
        }
        var tensors: [any MessageFrame] = []
        tensors.reserveCapacity(tensorCount)
        while let frame = iterator.next() { tensors.append(frame) }
        return DecodedMessage(version: header.version, body: body, tensorFrames: tensors, byteCount: total)
    }

    private static func decodeBody(_ type: MessageType, _ raw: UnsafeRawBufferPointer) throws -> WireBody {
        func parse<M: SwiftProtobuf.Message>(_: M.Type) throws -> M {
            var m = M()
            if raw.count > 0 {
                try m.merge(serializedBytes: RawSpan(_unsafeBytes: raw))
            }
            return m
        }
        switch type {
        case .hello: return .hello(try parse(Tributary_V1_Hello.self))
        case .welcome: return .welcome(try parse(Tributary_V1_Welcome.self))
        case .trajectoryChunk: return .trajectoryChunk(try parse(Tributary_V1_TrajectoryChunk.self))
        case .credit: return .credit(try parse(Tributary_V1_Credit.self))
        case .reject: return .reject(try parse(Tributary_V1_Reject.self))
        case .heartbeat: return .heartbeat(try parse(Tributary_V1_Heartbeat.self))
        case .goodbye: return .goodbye(try parse(Tributary_V1_Goodbye.self))
        case .weightsAvailable: return .weightsAvailable(try parse(Tributary_V1_WeightsAvailable.self))
        case .getWeights: return .getWeights(try parse(Tributary_V1_GetWeights.self))
        case .weights: return .weights(try parse(Tributary_V1_Weights.self))
        case .statusRequest: return .statusRequest(try parse(Tributary_V1_StatusRequest.self))
        case .statusReply: return .statusReply(try parse(Tributary_V1_StatusReply.self))
        }
    }
}
