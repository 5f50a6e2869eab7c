import Foundation
import Protocol
import Testing

private func frames(_ f: [OwnedFrame]) -> [any MessageFrame] { f.map { $0 as any MessageFrame } }

@Suite struct CodecTests {
    @Test func schemaHashMatchesProto() throws {
        let proto = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Protocol/tributary.proto")
        let bytes = try [UInt8](Data(contentsOf: proto))
        let hex = WeightsDigest.sha256(bytes).map { String(format: "%02x", $0) }.joined()
        #expect(hex == tributaryProtoSHA256, "tributary.proto changed: run scripts/generate-protos.sh and commit the result")
    }

    @Test func everyBodyRoundTrips() throws {
        var hello = Tributary_V1_Hello()
        hello.workerID = "w"
        hello.protocolVersions = [1]
        var status = Tributary_V1_StatusReply()
        status.rejected = ["malformed": 3]
        let bodies: [WireBody] = [
            .hello(hello), .welcome(.init()), .trajectoryChunk(.init()), .credit(.init()), .reject(.init()),
            .heartbeat(.init()), .goodbye(.init()), .weightsAvailable(.init()), .getWeights(.init()),
            .weights(.init()), .statusRequest(.init()), .statusReply(status),
        ]
        #expect(Set(bodies.map(\.type)) == Set(MessageType.allCases))
        for body in bodies {
            let encoded = WireCodec.encode(body)
            #expect(encoded[0] == [0x54, 0x52, 1, body.type.rawValue])
            let decoded = try WireCodec.decode(frames(encoded))
            #expect(decoded.body.type == body.type)
            #expect(decoded.version == 1)
            #expect(decoded.tensorFrames.isEmpty)
        }
        if case .hello(let h) = try WireCodec.decode(frames(WireCodec.encode(.hello(hello)))).body {
            #expect(h == hello)
        } else {
            Issue.record("hello did not decode as hello")
        }
        if case .statusReply(let s) = try WireCodec.decode(frames(WireCodec.encode(.statusReply(status)))).body {
            #expect(s.rejected == ["malformed": 3])
        } else {
            Issue.record("status did not decode as status")
        }
    }

    @Test func tensorFramesTravelAfterTheBody() throws {
        var tensors = TensorFrames()
        var w = Tributary_V1_Weights()
        w.data = tensors.add([UInt8](repeating: 7, count: 100), shape: [100])
        let encoded = WireCodec.encode(.weights(w), tensors: tensors.frames)
        #expect(encoded.count == 3)
        let decoded = try WireCodec.decode(frames(encoded))
        #expect(decoded.tensorFrames.count == 1)
        #expect(decoded.tensorFrames[0].count == 100)
        #expect(decoded.byteCount == encoded.reduce(0) { $0 + $1.count })
    }

    // MARK: bad input: every case is an error with a code, never a trap

    @Test func tooFewFramesIsMalformed() {
        #expect(throws: ProtocolError.self) { try WireCodec.decode(frames([])) }
        let error = #expect(throws: ProtocolError.self) { try WireCodec.decode(frames([[0x54, 0x52, 1, 6]])) }
        #expect(error?.code == .malformed)
    }

    @Test(arguments: [[UInt8](), [0x54], [0x54, 0x52, 1], [0x41, 0x42, 1, 6], [0x54, 0x52, 1, 6, 0]])
    func badHeaderIsMalformed(header: [UInt8]) {
        let error = #expect(throws: ProtocolError.self) { try WireCodec.decode(frames([header, []])) }
        #expect(error?.code == .malformed)
    }

    @Test func unknownTypeIsReported() {
        let error = #expect(throws: ProtocolError.self) { try WireCodec.decode(frames([[0x54, 0x52, 1, 200], []])) }
        #expect(error?.code == .unknownType)
    }

    @Test func otherVersionIsUnsupported() {
        let error = #expect(throws: ProtocolError.self) {
            try WireCodec.decode(frames(WireCodec.encode(.heartbeat(.init()), version: 2)))
        }
        #expect(error?.code == .unsupportedVersion)
    }

    @Test func garbageBodyIsMalformed() {
        // 0xff 0xff ... is an invalid varint / wire type sequence.
        let error = #expect(throws: ProtocolError.self) {
            try WireCodec.decode(frames([[0x54, 0x52, 1, 1], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]]))
        }
        #expect(error?.code == .malformed)
    }

    @Test func oversizeIsReportedBeforeDecoding() {
        let big = WireCodec.encode(.heartbeat(.init()), tensors: [[UInt8](repeating: 0, count: 10_000)])
        let error = #expect(throws: ProtocolError.self) {
            try WireCodec.decode(frames(big), limits: WireLimits(maxMessageBytes: 5_000))
        }
        #expect(error?.code == .oversize)
    }

    /// A body above its type's limit is refused before protobuf decodes it (a 30 MiB worker id
    /// took seconds to decode), whatever it holds.
    @Test func bodiesAboveTheirTypesLimitAreOversizeBeforeDecoding() {
        var hello = Tributary_V1_Hello()
        hello.workerID = String(repeating: "x", count: 30 << 20)
        #expect(throws: ProtocolError(.oversize, "the Hello body has \(30 << 20 + 5) bytes, the limit for a Hello is 16384")) {
            try WireCodec.decode(frames(WireCodec.encode(.hello(hello))))
        }
        // Garbage of that size too: the limit is checked before decoding.
        #expect(throws: ProtocolError.self) { try WireCodec.decode(frames([WireHeader(type: .heartbeat).bytes, OwnedFrame(repeating: 0xFF, count: 2000)])) }
        // At the limit it decodes (and the field limits then apply).
        hello.workerID = String(repeating: "x", count: (16 << 10) - 10)
        let encoded = WireCodec.encode(.hello(hello))
        #expect(encoded[1].count <= 16 << 10)
        #expect((try? WireCodec.decode(frames(encoded))) != nil)
    }

    @Test func tooManyTensorFramesIsMalformed() {
        let many = WireCodec.encode(.heartbeat(.init()), tensors: Array(repeating: [1], count: 40))
        let error = #expect(throws: ProtocolError.self) { try WireCodec.decode(frames(many)) }
        #expect(error?.code == .malformed)
    }

    @Test func rejectIsAlwaysVersionOne() throws {
        let r = WireCodec.reject(ProtocolError(.noCredit, "x"), rejectedType: 3, sequence: 9, creditsReturned: 0)
        #expect(r[0] == [0x54, 0x52, 1, MessageType.reject.rawValue])
        guard case .reject(let body) = try WireCodec.decode(frames(r)).body else { Issue.record("not a reject"); return }
        #expect(body.code == .noCredit)
        #expect(body.sequence == 9)
        #expect(ProtocolError.Code(wire: body.code) == .noCredit)
    }

    @Test func everyErrorCodeHasAWireCodeAndAName() {
        let names = ProtocolError.Code.all.map(\.name)
        #expect(Set(names).count == names.count)
        for code in ProtocolError.Code.all {
            #expect(ProtocolError.Code(wire: code.wire) == code)
        }
    }

    @Test func versionNegotiationPicksTheHighestCommon() {
        #expect(ProtocolVersion.negotiate(peer: [1, 2, 3], ours: [1, 2]) == 2)
        #expect(ProtocolVersion.negotiate(peer: [1]) == 1)
        #expect(ProtocolVersion.negotiate(peer: [2, 3]) == nil)
        #expect(ProtocolVersion.negotiate(peer: []) == nil)
    }

    /// Random bytes in every position never trap the decoder.
    @Test func fuzzedFramesNeverTrap() {
        var rng = SystemRandomNumberGenerator()
        let valid = GoldenMessages.chunk()
        for round in 0..<2000 {
            var mutated = valid
            let f = Int.random(in: 0..<mutated.count, using: &rng)
            if !mutated[f].isEmpty {
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let i = Int.random(in: 0..<mutated[f].count, using: &rng)
                    mutated[f][i] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            if round % 7 == 0 { mutated.removeLast(Int.random(in: 0..<mutated.count, using: &rng)) }
            if let decoded = try? WireCodec.decode(frames(mutated)), case .trajectoryChunk(let c) = decoded.body {
                _ = try? ChunkValidator.validate(c, frames: decoded.tensorFrames, rules: GoldenMessages.rules())
            }
        }
    }
}
