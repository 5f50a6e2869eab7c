/// What the learner has seen of each environment copy of one worker session since that copy's
/// last episode boundary: the steps and the sum of their rewards. It decides which reported
/// episode statistics count towards the mean return and the target (docs/protocol.md §6).
///
/// An episode whose every step arrived in this session's accepted chunks is *verified*: its
/// `length` must equal the steps seen and its `episode_return` the sum of the rewards the chunks
/// carried (else `CODE_BAD_EPISODE`), and it counts. An episode that began before the learner
/// could see it (before the session's first chunk, or before a chunk that was lost or refused)
/// is *unverified*: its length may not be shorter than what was seen, nor longer than the
/// environment's time limit; it is accepted but not counted. A peer can therefore claim only
/// returns that its own accepted rewards back.
public struct EpisodeLedger: Sendable {
    private var steps: [UInt64]
    private var rewardSums: [Double]
    private var rewardMagnitudes: [Double]
    /// Whether the learner saw copy b's current episode from its first step.
    private var seenStart: [Bool]

    /// A new session: the start of no copy's current episode has been seen.
    public init(numEnvs: Int) {
        steps = Array(repeating: 0, count: numEnvs)
        rewardSums = Array(repeating: 0, count: numEnvs)
        rewardMagnitudes = Array(repeating: 0, count: numEnvs)
        seenStart = Array(repeating: false, count: numEnvs)
    }

    /// What a chunk's episode statistics came to.
    public struct Admitted: Sendable {
        /// Verified episodes: these count.
        public var counted: [Tributary_V1_EpisodeStats] = []
        /// Episodes accepted without being counted (their start was not seen).
        public var unverified = 0
    }

    /// Relative tolerance between a reported return and the sum of the chunk rewards (float32
    /// rewards summed in double on both sides differ by far less).
    public static let returnTolerance = 1e-4

    /// Checks `chunk`'s episode statistics against the steps seen so far and records its steps.
    /// On a refusal nothing is recorded (call `forget()`: those steps are lost to the ledger).
    public mutating func admit(_ chunk: ValidatedChunk, maxEpisodeSteps: Int?) throws(ProtocolError) -> Admitted {
        let t = Int(chunk.header.length)
        let b = Int(chunk.header.numEnvs)
        guard b == steps.count else {
            throw ProtocolError(.shapeMismatch, "num_envs B=\(b), the session has \(steps.count)")
        }
        var byStep: [Int: Tributary_V1_EpisodeStats] = [:]
        for e in chunk.header.episodes { byStep[Int(e.step) * b + Int(e.envIndex)] = e }
        var next = self
        var admitted = Admitted()
        let failure: ProtocolError? = chunk.rewards.withUnsafeBytes { r in
            chunk.terminated.withUnsafeBytes { term in
                chunk.truncated.withUnsafeBytes { trunc in
                    for s in 0..<t {
                        for e in 0..<b {
                            let i = s * b + e
                            let reward = Double(r.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
                            next.steps[e] += 1
                            next.rewardSums[e] += reward
                            next.rewardMagnitudes[e] += abs(reward)
                            guard term[i] == 1 || trunc[i] == 1 else { continue }
                            if let stats = byStep[i] {
                                do throws(ProtocolError) {
                                    try next.check(stats, env: e, step: s, maxEpisodeSteps: maxEpisodeSteps, into: &admitted)
                                } catch {
                                    return error
                                }
                            }
                            next.steps[e] = 0
                            next.rewardSums[e] = 0
                            next.rewardMagnitudes[e] = 0
                            next.seenStart[e] = true
                        }
                    }
                    return nil
                }
            }
        }
        if let failure { throw failure }
        self = next
        return admitted
    }

    private func check(_ e: Tributary_V1_EpisodeStats, env: Int, step: Int, maxEpisodeSteps: Int?,
                       into admitted: inout Admitted) throws(ProtocolError) {
        let seen = steps[env]
        if let max = maxEpisodeSteps, e.length > UInt64(max) {
            throw ProtocolError(.badEpisode, "the episode of env \(env) ending at step \(step) reports length \(e.length); the environment's time limit is \(max)")
        }
        if seenStart[env] {
            guard e.length == seen else {
                throw ProtocolError(.badEpisode, "the episode of env \(env) ending at step \(step) reports length \(e.length); the learner received \(seen) steps of it")
            }
            let tolerance = Self.returnTolerance * Swift.max(1, rewardMagnitudes[env])
            guard abs(e.episodeReturn - rewardSums[env]) <= tolerance else {
                throw ProtocolError(.badEpisode, "the episode of env \(env) ending at step \(step) reports return \(e.episodeReturn); its rewards sum to \(rewardSums[env])")
            }
            admitted.counted.append(e)
        } else {
            guard e.length >= seen else {
                throw ProtocolError(.badEpisode, "the episode of env \(env) ending at step \(step) reports length \(e.length); the learner received \(seen) steps of it already")
            }
            admitted.unverified += 1
        }
    }

    /// Steps of this session were lost (a refused chunk, a gap in the sequence): no copy's
    /// current episode can be verified any more.
    public mutating func forget() {
        for e in seenStart.indices { seenStart[e] = false }
    }
}
