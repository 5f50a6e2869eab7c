import Foundation
import Protocol
import Testing

/// The committed golden files are exactly what this build encodes, and decode back.
/// Regenerate with `TRIBUTARY_UPDATE_GOLDEN=1 swift test --filter GoldenTests` after a
/// deliberate change to the wire format (and say so in docs/protocol.md).
@Suite struct GoldenTests {
    @Test(arguments: GoldenMessages.all.map(\.name))
    func goldenBytesAreStable(name: String) throws {
        let frames = GoldenMessages.all.first { $0.name == name }!.frames
        let url = GoldenMessages.directory.appendingPathComponent("\(name).frames")
        let encoded = GoldenMessages.serialize(frames)
        if ProcessInfo.processInfo.environment["TRIBUTARY_UPDATE_GOLDEN"] == "1" {
            try Data(encoded).write(to: url)
        }
        let stored = try [UInt8](Data(contentsOf: url))
        #expect(stored == encoded, "\(name).frames differs from what this build encodes")
        let parsed = try #require(GoldenMessages.parse(stored))
        let decoded = try WireCodec.decode(parsed.map { $0 as any MessageFrame })
        #expect(decoded.body.type.description.lowercased().replacingOccurrences(of: "trajectorychunk", with: "chunk")
            == name.replacingOccurrences(of: "_shared", with: "").replacingOccurrences(of: "_", with: ""))
    }

    /// The same chunk with a frame per tensor and with every tensor in one shared frame.
    @Test(arguments: [false, true])
    func goldenChunkValidates(shared: Bool) throws {
        let frames = GoldenMessages.chunk(shared: shared)
        #expect(frames.count == (shared ? 3 : 12))
        let decoded = try WireCodec.decode(frames.map { $0 as any MessageFrame })
        guard case .trajectoryChunk(let chunk) = decoded.body else { Issue.record("not a chunk"); return }
        let v = try ChunkValidator.validate(chunk, frames: decoded.tensorFrames, rules: GoldenMessages.rules())
        #expect(v.observations.copyFloats() == (0..<12).map { Float($0) * 0.5 })
        #expect(v.finalObservations?.copyFloats() == [9, 9.5, 10])
        #expect(v.bootstrapObservation.copyFloats() == [6, 6.5, 7, 7.5, 8, 8.5])
        #expect(v.policyVersions.uint64(at: 1) == 3)
        #expect((0..<4).map { v.rewards.float32(at: $0) } == [1, 0, 1, 1])
        #expect((0..<4).map { v.truncated.uint8(at: $0) } == [0, 0, 0, 1])
        #expect(v.steps == 4)
    }
}
