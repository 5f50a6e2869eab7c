import Domain
import Environments
import NeuralNet
import Protocol
@testable import Rollout
import Testing

@Suite struct GroupedSequenceSourceTests {
    /// A round of P prompts × K answers becomes P chunks the learner accepts: T = the answer
    /// length, B = K, a group id per chunk, the prompt's id, one episode per column whose return
    /// is what the verifier says of that column's tokens.
    @Test func aRoundIsOneValidChunkPerPrompt() throws {
        var source = try #require(GroupedSequenceSource(envID: "addrev", groupSize: 4, promptsPerRound: 3, seed: 2))
        #expect(source.unrollLength == 2 && source.spec.numEnvs == 4)
        let net = ActorCritic(observationSize: AddReversed.observationSize, hidden: [16], actions: 10, seed: 1)
        let spec = EnvironmentRegistry.spec("addrev")!
        var groupIDs = Set<UInt64>()
        for sequence in 0..<6 {
            let frames = source.next(runID: "r", workerID: "w", incarnation: 9, sequence: UInt64(sequence), policy: Policy(version: 1, network: net))
            let decoded = try WireCodec.decode(frames.map { $0 as any MessageFrame })
            guard case .trajectoryChunk(let c) = decoded.body else { Issue.record("not a chunk"); return }
            let valid = try ChunkValidator.validate(c, frames: decoded.tensorFrames,
                                                    rules: ChunkRules(spec: spec, numEnvs: 4, unrollLength: 2, newestVersion: 1))
            #expect(valid.stepVersions == [1, 1])
            #expect(c.hasGroupID && c.sampleIndex == 0 && c.promptID.hasPrefix("addrev:"))
            groupIDs.insert(c.groupID)
            let prompt = AddReversed.prompt(Int(c.promptID.dropFirst(7))!)
            #expect(c.episodes.count == 4)
            // Actions [2, 4] int32, rewards [2, 4] float32, read back.
            let actions = decoded.tensorFrames[Int(c.actions.frame)].withUnsafeBytes { raw in
                (0..<8).map { Int(raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
            }
            let rewards = decoded.tensorFrames[Int(c.rewards.frame)].withUnsafeBytes { raw in
                (0..<8).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
            }
            for col in 0..<4 {
                let correct = AddReversed.isCorrect(prompt: prompt, answer: [actions[col], actions[4 + col]])
                #expect(rewards[4 + col] == (correct ? 1 : 0) && rewards[col] == 0)
                #expect(c.episodes[col].episodeReturn == (correct ? 1 : 0) && c.episodes[col].length == 2)
            }
        }
        #expect(groupIDs.count == 6)
    }

    @Test func onlySequenceTasksAreGrouped() {
        #expect(GroupedSequenceSource(envID: "CartPole-v1", groupSize: 4, promptsPerRound: 2, seed: 1) == nil)
        #expect(GroupedSequenceSource(envID: "addrev", groupSize: 0, promptsPerRound: 2, seed: 1) == nil)
    }
}
