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
    @Test func actedStepsMakeAValidChunkWithPerStepVersions() throws {
        var actor = try #require(EnvironmentActor(envID: "CartPole-v1", numEnvs: 3, seed: 4))
        let spec = EnvironmentRegistry.spec("CartPole-v1")!
        var adder = ChunkAdder(spec: spec.wire(numEnvs: 3), unrollLength: 6)
        let net = ActorCriticFixture.make()
        for step in 0..<6 { adder.add(actor.step(Policy(version: step < 3 ? 1 : 2, network: net))) }
        #expect(adder.isFull)
        let frames = adder.chunk(runID: "r", workerID: "w", incarnation: 1, sequence: 0, bootstrap: actor.observations)
        #expect(adder.steps == 0)
        let decoded = try WireCodec.decode(frames.map { $0 as any MessageFrame })
        guard case .trajectoryChunk(let c) = decoded.body else { Issue.record("not a chunk"); return }
        let valid = try ChunkValidator.validate(c, frames: decoded.tensorFrames,
                                                rules: ChunkRules(spec: spec, numEnvs: 3, unrollLength: 6, newestVersion: 2))
        #expect(valid.stepVersions == [1, 1, 1, 2, 2, 2])
    }
}
