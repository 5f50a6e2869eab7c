import Domain
import Learner
import Protocol
import Rollout
import Testing

@Suite struct BatchAssemblyTests {
    /// A validated chunk from the synthetic source, acted by `version`.
    func chunk(version: UInt64, envs: Int, seed: UInt64) throws -> QueuedChunk {
        var source = SyntheticSource(spec: SyntheticSource.envSpec(numEnvs: UInt32(envs), observationSize: 3),
                                     unrollLength: 4, episodeLength: 3, seed: seed)
        let frames = source.next(runID: "r", workerID: "w", incarnation: 1, sequence: 0, policyVersion: version)
        let decoded = try WireCodec.decode(frames.map { $0 as any MessageFrame })
        guard case .trajectoryChunk(let c) = decoded.body else { throw ProtocolError(.malformed, "not a chunk") }
        return QueuedChunk(worker: WorkerKey([1]), chunk: try ChunkValidator.validate(
            c, frames: decoded.tensorFrames,
            rules: ChunkRules(spec: .synthetic(observationSize: 3), numEnvs: envs, unrollLength: 4, newestVersion: .max)))
    }

    /// Lag is the learner's version minus the acting version (not relative to the newest chunk:
    /// the first version of this code reported 0 whenever all chunks were equally stale).
    @Test func chunksAreConcatenatedAlongBAndLagIsAgainstTheLearner() throws {
        let a = try chunk(version: 3, envs: 2, seed: 1)
        let b = try chunk(version: 5, envs: 1, seed: 2)
        let (batch, lags) = BatchAssembly.assemble([a, b], learnerVersion: 7)
        #expect(batch.timeSteps == 4 && batch.batch == 3)
        #expect(lags == [4, 4, 4, 4, 2, 2, 2, 2])
        // Step 1, column 2 is chunk b's step 1, env 0.
        let bObs = b.chunk.observations.copyFloats()
        #expect(Array(batch.observations[((1 * 3) + 2) * 3..<((1 * 3) + 2) * 3 + 3]) == Array(bObs[(1 * 1 + 0) * 3..<(1 * 1 + 0) * 3 + 3]))
        // Truncations (episode length 3) keep their final observations at the batch's indices.
        for (index, _) in batch.finalObservations { #expect(batch.truncated[index]) }
        #expect(batch.truncated.filter { $0 }.count == batch.finalObservations.count)
        #expect(!batch.finalObservations.isEmpty)
        let (_, sameVersion) = BatchAssembly.assemble([a], learnerVersion: 3)
        #expect(sameVersion.allSatisfy { $0 == 0 })
    }
}
