import Domain
import Experience
import Learner
import Protocol
import Rollout
import Testing

@Suite struct BatchAssemblyTests {
    /// A validated chunk from the synthetic source, acted by `version`.
    func chunk(version: UInt64, envs: Int, seed: UInt64, incarnation: UInt64 = 1, group: UInt64? = nil) throws -> QueuedChunk {
        var source = SyntheticSource(spec: SyntheticSource.envSpec(numEnvs: UInt32(envs), observationSize: 3),
                                     unrollLength: 4, episodeLength: 3, seed: seed)
        var frames = source.next(runID: "r", workerID: "w", incarnation: incarnation, sequence: 0, policyVersion: version)
        if let group {
            let d = try WireCodec.decode(frames.map { $0 as any MessageFrame })
            guard case .trajectoryChunk(var c) = d.body else { throw ProtocolError(.malformed, "not a chunk") }
            c.groupID = group
            frames = WireCodec.encode(.trajectoryChunk(c), tensors: Array(frames.dropFirst(2)))  // header, body, then the tensors
        }
        let decoded = try WireCodec.decode(frames.map { $0 as any MessageFrame })
        guard case .trajectoryChunk(let c) = decoded.body else { throw ProtocolError(.malformed, "not a chunk") }
        return QueuedChunk(worker: WorkerKey([1]), chunk: try ChunkValidator.validate(
            c, frames: decoded.tensorFrames,
            rules: ChunkRules(spec: .synthetic(observationSize: 3), numEnvs: envs, unrollLength: 4, newestVersion: .max)))
    }

    /// The data path inserts after releasing the core's lock, so at shutdown an insert can land
    /// after the store was drained (seen once in ProcessTests: accepted 794, consumed 793). It
    /// is released at once and counted as dropped at shutdown, never left buffered.
    @Test func anInsertAfterTheShutdownDrainIsReleasedAtOnce() throws {
        let store = ExperienceStore()
        _ = store.insert(contentsOf: [try chunk(version: 1, envs: 2, seed: 1)])
        store.close()
        let drained = store.drain()
        #expect(drained.released.count == 1)
        let late = store.insert(contentsOf: [try chunk(version: 1, envs: 2, seed: 2)])
        #expect(late.released.count == 1, "released with the insert")
        #expect(store.count == 0)
        let accounting = store.read { $0.accounting }
        #expect(accounting.dropped[.shutdown] == 2 && accounting.received == 2 && accounting.buffered == 0)
    }

    /// Lag is the learner's version minus the acting version (not relative to the newest chunk:
    /// the first version of this code reported 0 whenever all chunks were equally stale).
    @Test func chunksAreConcatenatedAlongBAndLagIsAgainstTheLearner() throws {
        let a = try chunk(version: 3, envs: 2, seed: 1)
        let b = try chunk(version: 5, envs: 1, seed: 2)
        let assembled = BatchAssembly.assemble([a, b], learnerVersion: 7)
        let (batch, lags) = (assembled.batch!, assembled.lags)
        #expect(batch.timeSteps == 4 && batch.batch == 3)
        #expect(lags == [4, 4, 4, 4, 2, 2, 2, 2])
        // Step 1, column 2 is chunk b's step 1, env 0.
        let bObs = b.chunk.observations.copyFloats()
        #expect(Array(batch.observations[((1 * 3) + 2) * 3..<((1 * 3) + 2) * 3 + 3]) == Array(bObs[(1 * 1 + 0) * 3..<(1 * 1 + 0) * 3 + 3]))
        // Truncations (episode length 3) keep their final observations at the batch's indices.
        for (index, _) in batch.finalObservations { #expect(batch.truncated[index]) }
        #expect(batch.truncated.filter { $0 }.count == batch.finalObservations.count)
        #expect(!batch.finalObservations.isEmpty)
        let sameVersion = BatchAssembly.assemble([a], learnerVersion: 3).lags
        #expect(sameVersion.allSatisfy { $0 == 0 })
    }

    /// A group is one incarnation's: the same group id from another worker is another group, so
    /// a peer cannot join someone else's group and skew its advantages.
    @Test func groupsAreScopedToTheirSender() throws {
        let a = try chunk(version: 1, envs: 2, seed: 1, incarnation: 7, group: 42)
        let b = try chunk(version: 1, envs: 2, seed: 2, incarnation: 7, group: 42)
        let c = try chunk(version: 1, envs: 2, seed: 3, incarnation: 8, group: 42)
        let ids = BatchAssembly.assemble([a, b, c], learnerVersion: 1).batch!.groupIDs
        #expect(ids[0] == ids[2] && ids[0] != nil)
        #expect(ids[0] != ids[4])
        #expect(a.groupID == b.groupID && a.groupID != c.groupID)
    }
}

@Suite struct NonFiniteObservationTests {
    func chunk(seed: UInt64, poison: ((inout [OwnedFrame], Tributary_V1_TrajectoryChunk) -> Void)? = nil) throws -> QueuedChunk {
        var source = SyntheticSource(spec: SyntheticSource.envSpec(numEnvs: 2, observationSize: 3), unrollLength: 4, episodeLength: 3, seed: seed)
        var frames = source.next(runID: "r", workerID: "w", incarnation: 1, sequence: 0, policyVersion: 1)
        let decoded0 = try WireCodec.decode(frames.map { $0 as any MessageFrame })
        guard case .trajectoryChunk(let c0) = decoded0.body else { throw ProtocolError(.malformed, "not a chunk") }
        if let poison {
            var tensors = Array(frames.dropFirst(2))
            poison(&tensors, c0)
            frames = Array(frames.prefix(2)) + tensors
        }
        let decoded = try WireCodec.decode(frames.map { $0 as any MessageFrame })
        guard case .trajectoryChunk(let c) = decoded.body else { throw ProtocolError(.malformed, "not a chunk") }
        return QueuedChunk(worker: WorkerKey([1]), chunk: try ChunkValidator.validate(
            c, frames: decoded.tensorFrames,
            rules: ChunkRules(spec: .synthetic(observationSize: 3), numEnvs: 2, unrollLength: 4, newestVersion: .max)))
    }

    static func nan(_ frame: inout OwnedFrame, at i: Int) {
        withUnsafeBytes(of: Float.nan.bitPattern) { frame.replaceSubrange((i * 4)..<(i * 4 + 4), with: $0) }
    }

    /// A NaN in the observations, the bootstrap observation or a final observation leaves that
    /// chunk out of the batch (and only that chunk).
    @Test func chunksWithNonFiniteObservationsAreLeftOut() throws {
        let good = try chunk(seed: 1)
        let poisoned = [
            try chunk(seed: 2) { t, c in Self.nan(&t[Int(c.observations.frame)], at: 7) },
            try chunk(seed: 3) { t, c in Self.nan(&t[Int(c.bootstrapObservation.frame)], at: 1) },
            try chunk(seed: 4) { t, c in Self.nan(&t[Int(c.finalObservations.frame)], at: 0) },
        ]
        for bad in poisoned {
            let assembled = BatchAssembly.assemble([good, bad, good], learnerVersion: 2)
            #expect(assembled.discarded == [1])
            #expect(assembled.batch?.batch == 4)
            #expect(assembled.lags.count == 8)
            #expect(assembled.batch.map { allFinite($0.observations) && allFinite($0.bootstrapObservations) } == true)
        }
        let none = BatchAssembly.assemble([poisoned[0]], learnerVersion: 2)
        #expect(none.batch == nil && none.discarded == [0])
    }
}
