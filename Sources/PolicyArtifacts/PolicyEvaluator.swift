import Domain
import Environments
import NeuralNet
import Training

/// What a policy earns: the return and length of each of N whole episodes, and their mean and
/// standard deviation.
public struct PolicyEvaluation: Sendable, Equatable, Codable {
    public struct Episode: Sendable, Equatable, Codable {
        public var episodeReturn: Double
        public var length: Int
        enum CodingKeys: String, CodingKey { case episodeReturn = "return", length }
    }

    public var envID: String
    public var greedy: Bool
    public var seed: UInt64
    public var episodes: [Episode]

    public var meanReturn: Double { episodes.isEmpty ? .nan : episodes.map(\.episodeReturn).reduce(0, +) / Double(episodes.count) }
    /// Population standard deviation of the returns.
    public var stdReturn: Double {
        guard !episodes.isEmpty else { return .nan }
        let m = meanReturn
        return (episodes.map { ($0.episodeReturn - m) * ($0.episodeReturn - m) }.reduce(0, +) / Double(episodes.count)).squareRoot()
    }
    public var meanLength: Double { episodes.isEmpty ? .nan : Double(episodes.map(\.length).reduce(0, +)) / Double(episodes.count) }

    enum CodingKeys: String, CodingKey { case envID = "env_id", greedy, seed, episodes }
}

/// Runs a policy in one of the built-in environments, without a learner or sockets.
public enum PolicyEvaluator {
    /// The actor-critic a trainer state holds.
    public static func network(_ state: TrainerState) -> ActorCritic {
        var net = ActorCritic(observationSize: state.observationSize, hidden: state.settings.hidden, head: state.head.policyHead,
                              activation: state.settings.activation, seed: 0)
        net.network.parameters = state.parameters.values
        return net
    }

    /// `episodes` whole episodes of `envID` (nil when it is unknown or does not fit the network).
    /// Greedy: the most likely action (categorical) or the mean (Gaussian); otherwise actions are
    /// sampled as a worker samples them. Up to 16 copies run side by side, each a fixed share
    /// of the episodes, so short episodes are not over-represented.
    public static func evaluate(_ policy: ActorCritic, envID: String, episodes: Int, greedy: Bool, seed: UInt64 = 1) -> PolicyEvaluation? {
        guard episodes > 0, let spec = EnvironmentRegistry.spec(envID), spec.observationShape == [policy.observationSize],
              PolicyHead(spec.actionSpace) == policy.head,
              var envs = EnvironmentRegistry.makeVector(envID, count: min(episodes, 16), seed: seed)
        else { return nil }
        let n = envs.count
        var quota = (0..<n).map { episodes / n + ($0 < episodes % n ? 1 : 0) }
        var results: [PolicyEvaluation.Episode] = []
        var rng = SplitMix64(seed: seed ^ 0x5eed_e7a1)
        var observations = envs.observations
        while quota.contains(where: { $0 > 0 }) {
            let actions: [[Float]]
            switch policy.head {
            case .categorical(let a):
                if greedy {
                    let (logp, _) = policy.evaluate(observations, rows: n)
                    actions = (0..<n).map { r in [Float((0..<a).max { logp[r * a + $0] < logp[r * a + $1] }!)] }
                } else {
                    actions = policy.act(observations, rows: n, using: &rng).actions.map { [$0] }
                }
            case .gaussian(let d):
                if greedy {
                    let (mean, _, _) = policy.splitGaussian(policy.network.forward(observations, batch: n), rows: n)
                    actions = (0..<n).map { Array(mean[($0 * d)..<(($0 + 1) * d)]) }
                } else {
                    let sampled = policy.act(observations, rows: n, using: &rng).actions
                    actions = (0..<n).map { Array(sampled[($0 * d)..<(($0 + 1) * d)]) }
                }
            }
            let step = envs.step(actions)
            observations = step.observations
            for e in step.episodes where quota[e.env] > 0 {
                quota[e.env] -= 1
                results.append(.init(episodeReturn: e.episodeReturn, length: e.length))
            }
        }
        return PolicyEvaluation(envID: envID, greedy: greedy, seed: seed, episodes: results)
    }
}
