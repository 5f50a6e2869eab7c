import Domain

/// N copies of an environment stepped together, with automatic reset in the same step
/// (the observation returned for a finished copy is the first of its next episode; the
/// episode's last observation is kept in `finalObservations`, which a truncated step's
/// bootstrap needs).
public struct VectorEnvironment<E: Environment>: Sendable {
    /// One finished episode.
    public struct Episode: Sendable, Equatable {
        public var env: Int
        public var episodeReturn: Double
        public var length: Int
        public var terminated: Bool
    }

    /// The outcome of one step of every copy; arrays are indexed by copy.
    public struct Step: Sendable {
        public var observations: [Float]  // [N, observationSize]
        public var rewards: [Float]
        public var terminated: [Bool]
        public var truncated: [Bool]
        /// The last observation of every copy whose episode ended in this step.
        public var finalObservations: [Int: [Float]]
        public var episodes: [Episode]
    }

    public private(set) var copies: [TimeLimited<E>]
    public private(set) var observations: [Float]
    private var rng: SplitMix64
    private var returns: [Double]

    public var count: Int { copies.count }

    public init(count: Int, seed: UInt64) {
        precondition(count > 0)
        copies = Array(repeating: TimeLimited<E>(), count: count)
        rng = SplitMix64(seed: seed)
        returns = Array(repeating: 0, count: count)
        observations = []
        for i in 0..<count { observations += copies[i].reset(using: &rng) }
    }

    /// Steps every copy with its action (`actions[i]` for copy i).
    public mutating func step(_ actions: [[Float]]) -> Step {
        precondition(actions.count == count)
        let size = E.observationSize
        var out = Step(observations: observations, rewards: [], terminated: [], truncated: [], finalObservations: [:], episodes: [])
        for i in 0..<count {
            let r = copies[i].step(actions[i])
            returns[i] += r.reward
            out.rewards.append(Float(r.reward))
            out.terminated.append(r.terminated)
            out.truncated.append(r.truncated)
            var next = r.observation
            if r.terminated || r.truncated {
                out.finalObservations[i] = r.observation
                out.episodes.append(Episode(env: i, episodeReturn: returns[i], length: copies[i].elapsed, terminated: r.terminated))
                returns[i] = 0
                next = copies[i].reset(using: &rng)
            }
            out.observations.replaceSubrange((i * size)..<((i + 1) * size), with: next)
        }
        observations = out.observations
        return out
    }
}
