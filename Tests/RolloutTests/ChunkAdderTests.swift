import Domain
import Environments
import NeuralNet
import Protocol
@testable import Rollout
import Testing

enum ActorCriticFixture {
    static func make() -> ActorCritic { ActorCritic(observationSize: 4, hidden: [8], actions: 2, seed: 1) }
}

@Suite struct ChunkAdderTests {
    /// An actor's steps through an adder make a chunk the learner accepts, with each step's own
    /// policy version (a worker whose weights change mid-chunk says so).
    @Test(arguments: [false, true])
    func actedStepsMakeAValidChunkWithPerStepVersions(shared: Bool) throws {
        var actor = try #require(EnvironmentActor(envID: "CartPole-v1", numEnvs: 3, seed: 4))
        let spec = EnvironmentRegistry.spec("CartPole-v1")!
        var adder = ChunkAdder(spec: spec.wire(numEnvs: 3), unrollLength: 6)
        adder.sharesTensorFrames = shared
        let net = ActorCriticFixture.make()
        for step in 0..<6 { adder.add(actor.step(Policy(version: step < 3 ? 1 : 2, network: net))) }
        #expect(adder.isFull)
        let frames = adder.chunk(runID: "r", workerID: "w", incarnation: 1, sequence: 0, bootstrap: actor.observations)
        #expect(adder.steps == 0)
        // Header, body and one shared frame, or a frame per tensor (7 required + bootstrap).
        #expect(shared ? frames.count == 3 : frames.count >= 10)
        let decoded = try WireCodec.decode(frames.map { $0 as any MessageFrame })
        guard case .trajectoryChunk(let c) = decoded.body else { Issue.record("not a chunk"); return }
        let valid = try ChunkValidator.validate(c, frames: decoded.tensorFrames,
                                                rules: ChunkRules(spec: spec, numEnvs: 3, unrollLength: 6, newestVersion: 2))
        #expect(valid.stepVersions == [1, 1, 1, 2, 2, 2])
        #expect(valid.observations.byteCount == 6 * 3 * 4 * 4)
    }

    /// Only small tensors share a frame: one at the transport's zero-copy size keeps its own
    /// frame (it is sent without a copy, and packing would add one).
    @Test func largeTensorsKeepAFrameOfTheirOwn() {
        var frames = TensorFrames(sharingBelow: TensorFrames.sharedTensorLimit)
        let small = frames.add([Float](repeating: 1, count: 8), shape: [8])
        let large = frames.add([Float](repeating: 2, count: TensorFrames.sharedTensorLimit / 4), shape: [TensorFrames.sharedTensorLimit / 4])
        let second = frames.add([UInt8](repeating: 1, count: 3), shape: [3])
        #expect(frames.frames.count == 2)
        #expect((small.frame, small.offset, second.frame, second.offset) == (0, 0, 0, 32))
        #expect((large.frame, large.offset) == (1, 0))
        #expect(frames.frames[0].count == 35 && frames.frames[1].count == TensorFrames.sharedTensorLimit)
    }
}
