import Domain
import Protocol
import Testing

/// A valid chunk of T steps of B copies with the given rewards, episode ends and stats.
private func chunk(
    t: Int, b: Int, rewards: [Float], ends: [(step: Int, env: Int, terminated: Bool)] = [],
    stats: [(step: Int, env: Int, length: UInt64, ret: Double)] = []
) throws -> ValidatedChunk {
    var frames = TensorFrames()
    var c = Tributary_V1_TrajectoryChunk()
    c.envID = "synthetic"
    c.length = UInt32(t)
    c.numEnvs = UInt32(b)
    var term = [UInt8](repeating: 0, count: t * b)
    var trunc = [UInt8](repeating: 0, count: t * b)
    var finalIndex: [Int32] = []
    for e in ends { if e.terminated { term[e.step * b + e.env] = 1 } else { trunc[e.step * b + e.env] = 1 } }
    for i in 0..<(t * b) where trunc[i] == 1 { finalIndex += [Int32(i / b), Int32(i % b)] }
    c.policyVersions = frames.add([UInt64](repeating: 1, count: t), shape: [t])
    c.observations = frames.add([Float](repeating: 0, count: t * b), shape: [t, b, 1])
    c.actions = frames.add([Int32](repeating: 0, count: t * b), shape: [t, b])
    c.behaviourLogp = frames.add([Float](repeating: -0.7, count: t * b), shape: [t, b])
    c.rewards = frames.add(rewards, shape: [t, b])
    c.terminated = frames.add(term, shape: [t, b])
    c.truncated = frames.add(trunc, shape: [t, b])
    if !finalIndex.isEmpty {
        c.finalObservations = frames.add([Float](repeating: 0, count: finalIndex.count / 2), shape: [finalIndex.count / 2, 1])
        c.finalObservationIndex = frames.add(finalIndex, shape: [finalIndex.count / 2, 2])
    }
    c.bootstrapObservation = frames.add([Float](repeating: 0, count: b), shape: [b, 1])
    c.episodes = stats.map { s in
        var e = Tributary_V1_EpisodeStats()
        e.step = UInt32(s.step)
        e.envIndex = UInt32(s.env)
        e.length = s.length
        e.episodeReturn = s.ret
        let end = ends.first { $0.step == s.step && $0.env == s.env }
        e.terminated = end?.terminated ?? false
        e.truncated = end.map { !$0.terminated } ?? false
        return e
    }
    return try ChunkValidator.validate(
        c, frames: frames.frames.map { $0 as any MessageFrame },
        rules: ChunkRules(spec: .synthetic(observationSize: 1), numEnvs: b, unrollLength: t, newestVersion: 1))
}

private func refusal(_ body: () throws -> Void) -> ProtocolError.Code? {
    do {
        try body()
        return nil
    } catch let error as ProtocolError {
        return error.code
    } catch {
        return nil
    }
}

@Suite struct EpisodeLedgerTests {
    /// One copy, T = 4: an episode the learner saw from its first step counts exactly when its
    /// length and return are what the chunks carried.
    @Test func episodesSeenWholeAreVerifiedAndCounted() throws {
        var ledger = EpisodeLedger(numEnvs: 1)
        // The first episode began before the session: accepted, not counted.
        var a = try ledger.admit(chunk(t: 4, b: 1, rewards: [1, 1, 1, 1], ends: [(1, 0, true)], stats: [(1, 0, 30, 30)]), maxEpisodeSteps: nil)
        #expect(a.counted.isEmpty && a.unverified == 1)
        // Steps 2, 3 of this chunk + 3 of the next: 5 steps, rewards 1+1+0.5+0.5+0.5.
        a = try ledger.admit(chunk(t: 4, b: 1, rewards: [0.5, 0.5, 0.5, 9], ends: [(2, 0, false)], stats: [(2, 0, 5, 3.5)]), maxEpisodeSteps: nil)
        #expect(a.counted.map(\.episodeReturn) == [3.5])
        #expect(a.unverified == 0)
    }

    @Test func aLengthOrReturnTheStepsDoNotBackIsRefused() throws {
        func ledgerAfterABoundary() throws -> EpisodeLedger {
            var ledger = EpisodeLedger(numEnvs: 1)
            _ = try ledger.admit(chunk(t: 2, b: 1, rewards: [1, 1], ends: [(1, 0, true)]), maxEpisodeSteps: nil)
            return ledger
        }
        // 2 steps seen: length 500 and return 500 are lies.
        var ledger = try ledgerAfterABoundary()
        #expect(refusal { _ = try ledger.admit(chunk(t: 2, b: 1, rewards: [1, 1], ends: [(1, 0, true)], stats: [(1, 0, 500, 2)]), maxEpisodeSteps: nil) } == .badEpisode)
        ledger = try ledgerAfterABoundary()
        #expect(refusal { _ = try ledger.admit(chunk(t: 2, b: 1, rewards: [1, 1], ends: [(1, 0, true)], stats: [(1, 0, 2, 500)]), maxEpisodeSteps: nil) } == .badEpisode)
        // The truth passes.
        ledger = try ledgerAfterABoundary()
        #expect(refusal { _ = try ledger.admit(chunk(t: 2, b: 1, rewards: [1, 1], ends: [(1, 0, true)], stats: [(1, 0, 2, 2)]), maxEpisodeSteps: nil) } == nil)
    }

    @Test func unverifiedEpisodesStillRespectWhatWasSeenAndTheTimeLimit() throws {
        var ledger = EpisodeLedger(numEnvs: 1)
        _ = try ledger.admit(chunk(t: 4, b: 1, rewards: [1, 1, 1, 1]), maxEpisodeSteps: 500)
        // 4 steps seen before this chunk's end at step 0: 5 at least.
        #expect(refusal { _ = try ledger.admit(chunk(t: 4, b: 1, rewards: [1, 1, 1, 1], ends: [(0, 0, true)], stats: [(0, 0, 3, 3)]), maxEpisodeSteps: 500) } == .badEpisode)
        #expect(refusal { _ = try ledger.admit(chunk(t: 4, b: 1, rewards: [1, 1, 1, 1], ends: [(0, 0, true)], stats: [(0, 0, 501, 501)]), maxEpisodeSteps: 500) } == .badEpisode)
        let a = try ledger.admit(chunk(t: 4, b: 1, rewards: [1, 1, 1, 1], ends: [(0, 0, true)], stats: [(0, 0, 5, 5)]), maxEpisodeSteps: 500)
        #expect(a.unverified == 1 && a.counted.isEmpty)
    }

    /// A refused chunk does not change the ledger, and `forget` (steps lost) makes the episodes
    /// under way unverifiable rather than wrongly refused.
    @Test func lostStepsMakeEpisodesUnverifiedNotRefused() throws {
        var ledger = EpisodeLedger(numEnvs: 1)
        _ = try ledger.admit(chunk(t: 2, b: 1, rewards: [1, 1], ends: [(1, 0, true)]), maxEpisodeSteps: nil)
        let before = ledger
        #expect(refusal { _ = try ledger.admit(chunk(t: 2, b: 1, rewards: [1, 1], ends: [(1, 0, true)], stats: [(1, 0, 9, 9)]), maxEpisodeSteps: nil) } == .badEpisode)
        // A chunk of 2 steps was lost; the episode's true length is 4 (2 lost + 2 seen).
        ledger = before
        ledger.forget()
        let a = try ledger.admit(chunk(t: 2, b: 1, rewards: [1, 1], ends: [(1, 0, true)], stats: [(1, 0, 4, 4)]), maxEpisodeSteps: nil)
        #expect(a.unverified == 1 && a.counted.isEmpty)
        // The next episode is seen whole again.
        let b = try ledger.admit(chunk(t: 2, b: 1, rewards: [1, 1], ends: [(1, 0, true)], stats: [(1, 0, 2, 2)]), maxEpisodeSteps: nil)
        #expect(b.counted.count == 1)
    }

    /// Several copies and two episodes of one copy in a single chunk.
    @Test func copiesAreTrackedApart() throws {
        var ledger = EpisodeLedger(numEnvs: 2)
        _ = try ledger.admit(chunk(t: 1, b: 2, rewards: [0, 0], ends: [(0, 0, true), (0, 1, true)]), maxEpisodeSteps: nil)
        let a = try ledger.admit(
            chunk(t: 3, b: 2, rewards: [1, 2, 1, 2, 1, 2], ends: [(0, 0, true), (2, 0, false), (2, 1, true)],
                  stats: [(0, 0, 1, 1), (2, 0, 2, 2), (2, 1, 3, 6)]), maxEpisodeSteps: nil)
        #expect(a.counted.map(\.episodeReturn) == [1, 2, 6])
    }
}

@Suite struct HelloValidatorTests {
    let rules = HelloRules(spec: .synthetic(observationSize: 3), unrollLength: 32, maxChunkSteps: 1024)

    func hello(_ change: (inout Tributary_V1_Hello) -> Void = { _ in }) -> Tributary_V1_Hello {
        var h = Tributary_V1_Hello()
        h.protocolVersions = [1]
        h.workerID = "w"
        h.env = EnvSpec.synthetic(observationSize: 3).wire(numEnvs: 8)
        change(&h)
        return h
    }

    func code(_ h: Tributary_V1_Hello) -> ProtocolError.Code? {
        refusal { _ = try HelloValidator.validate(h, rules: rules) }
    }

    @Test func theLearnersEnvironmentIsWelcomed() throws {
        let admitted = try HelloValidator.validate(hello(), rules: rules)
        #expect(admitted.protocolVersion == 1 && admitted.numEnvs == 8)
    }

    @Test func everyStringHasALimit() {
        let huge = String(repeating: "é", count: 15 << 20)  // 30 MiB of UTF-8
        #expect(code(hello { $0.workerID = huge }) == .fieldTooLong)
        #expect(code(hello { $0.host = huge }) == .fieldTooLong)
        #expect(code(hello { $0.softwareVersion = huge }) == .fieldTooLong)
        #expect(code(hello { $0.env.envID = huge }) == .fieldTooLong)
        #expect(code(hello { $0.capabilities = Array(repeating: "x", count: 33) }) == .fieldTooLong)
        #expect(code(hello { $0.capabilities = [String(repeating: "x", count: 65)] }) == .fieldTooLong)
        #expect(code(hello { $0.protocolVersions = Array(repeating: 1, count: 17) }) == .fieldTooLong)
        #expect(code(hello { $0.env.observationShape = Array(repeating: 1, count: 9) }) == .fieldTooLong)
        #expect(code(hello { $0.workerID = String(repeating: "x", count: FieldLimits.workerID) }) == nil)
    }

    @Test func theLearnersEnvironmentDecides() {
        #expect(code(hello { $0.env.envID = "CartPole-v1" }) == .envMismatch)
        #expect(code(hello { $0.env.observationShape = [4] }) == .envMismatch)
        #expect(code(hello { $0.env.observationDtype = .float64 }) == .envMismatch)
        #expect(code(hello { $0.env.actionDtype = .int64 }) == .envMismatch)
        #expect(code(hello { $0.env.numActions = 3 }) == .envMismatch)
        #expect(code(hello { $0.env.numEnvs = 0 }) == .envMismatch)
        #expect(code(hello { $0.workerID = "" }) == .malformed)
        #expect(code(hello { $0.protocolVersions = [9] }) == .unsupportedVersion)
    }

    /// 32 steps × 33 copies > 1024: one such chunk would bring more than the learner takes.
    @Test func chunksAboveTheStepLimitAreOversize() {
        #expect(code(hello { $0.env.numEnvs = 32 }) == nil)
        #expect(code(hello { $0.env.numEnvs = 33 }) == .oversize)
        #expect(code(hello { $0.env.numEnvs = .max }) == .oversize)
    }
}
