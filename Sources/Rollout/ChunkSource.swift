import Domain
import Environments
import NeuralNet
import Protocol

/// The weights a worker acts with: a version and the network built from them.
public struct Policy: Sendable {
    public var version: UInt64
    public var network: ActorCritic?

    public init(version: UInt64, network: ActorCritic?) {
        self.version = version
        self.network = network
    }
}

/// Produces a worker's chunks: T steps of its B environment copies, encoded as frames.
public protocol ChunkSource: Sendable {
    var spec: Tributary_V1_EnvSpec { get }
    var unrollLength: Int { get }
    /// Whether acting needs weights (a real environment) or not (synthetic data).
    var needsPolicy: Bool { get }
    mutating func next(runID: String, workerID: String, incarnation: UInt64, sequence: UInt64, policy: Policy) -> [OwnedFrame]
}

extension SyntheticSource: ChunkSource {
    public var needsPolicy: Bool { false }
    public mutating func next(runID: String, workerID: String, incarnation: UInt64, sequence: UInt64, policy: Policy) -> [OwnedFrame] {
        next(runID: runID, workerID: workerID, incarnation: incarnation, sequence: sequence, policyVersion: policy.version)
    }
}

/// Acts in real environments with the current policy: one batched forward pass per step for
/// all copies, actions sampled from the policy's head (categorical for discrete action spaces,
/// diagonal Gaussian for continuous ones; the environment clips to its bounds, the log-prob is
/// of the sampled action), behaviour log-probs recorded, and every field of the chunk filled
/// (per-step policy versions, terminated vs truncated, final observations of truncated
/// episodes, the bootstrap observation, finished-episode stats).
public struct EnvironmentSource: ChunkSource {
    public let spec: Tributary_V1_EnvSpec
    public let unrollLength: Int
    public var needsPolicy: Bool { true }
    private var envs: AnyVectorEnvironment
    private var rng: SplitMix64
    /// Floats per action: 1 (a discrete index) or the continuous action's components.
    private let actionWidth: Int
    private let discrete: Bool

    /// nil when `envID` is unknown.
    public init?(envID: String, numEnvs: Int, unrollLength: Int, seed: UInt64) {
        guard let info = EnvironmentRegistry.spec(envID),
              let envs = EnvironmentRegistry.makeVector(envID, count: numEnvs, seed: seed)
        else { return nil }
        self.spec = info.wire(numEnvs: numEnvs)
        self.unrollLength = unrollLength
        self.envs = envs
        self.rng = SplitMix64(seed: seed ^ 0x5DEE_CE66)
        switch info.actionSpace {
        case .discrete: (actionWidth, discrete) = (1, true)
        case .continuous(let d, _, _): (actionWidth, discrete) = (d, false)
        }
    }

    public mutating func next(runID: String, workerID: String, incarnation: UInt64, sequence: UInt64, policy: Policy) -> [OwnedFrame] {
        guard let net = policy.network else { preconditionFailure("EnvironmentSource acts only with weights") }
        let t = unrollLength
        let b = envs.count
        let d = envs.observationSize
        var observations: [Float] = []
        observations.reserveCapacity(t * b * d)
        var actionsTaken: [Float] = []
        actionsTaken.reserveCapacity(t * b * actionWidth)
        var logps: [Float] = []
        var rewards: [Float] = []
        var terminated: [UInt8] = []
        var truncated: [UInt8] = []
        var finals: [Float] = []
        var finalIndex: [Int32] = []
        var episodes: [Tributary_V1_EpisodeStats] = []
        for step in 0..<t {
            let obs = envs.observations
            observations += obs
            let (chosen, logp) = net.act(obs, rows: b, using: &rng)
            logps += logp
            actionsTaken += chosen
            let w = actionWidth
            let result = envs.step((0..<b).map { Array(chosen[($0 * w)..<(($0 + 1) * w)]) })
            rewards += result.rewards
            terminated += result.terminated.map { $0 ? 1 : 0 }
            truncated += result.truncated.map { $0 ? 1 : 0 }
            for i in 0..<b where result.truncated[i] {
                finals += result.finalObservations[i]!
                finalIndex += [Int32(step), Int32(i)]
            }
            for e in result.episodes {
                var stats = Tributary_V1_EpisodeStats()
                stats.envIndex = UInt32(e.env)
                stats.step = UInt32(step)
                stats.episodeReturn = e.episodeReturn
                stats.length = UInt64(e.length)
                stats.terminated = e.terminated
                stats.truncated = !e.terminated
                episodes.append(stats)
            }
        }
        var frames = TensorFrames()
        var c = Tributary_V1_TrajectoryChunk(
            runID: runID, workerID: workerID, incarnation: incarnation, envID: spec.envID, sequence: sequence, length: t, numEnvs: b)
        c.policyVersions = frames.add([UInt64](repeating: policy.version, count: t), shape: [t])
        c.observations = frames.add(observations, shape: [t, b, d])
        c.actions = discrete ? frames.add(actionsTaken.map { Int32($0) }, shape: [t, b])
            : frames.add(actionsTaken, shape: [t, b, actionWidth])
        c.behaviourLogp = frames.add(logps, shape: [t, b])
        c.rewards = frames.add(rewards, shape: [t, b])
        c.terminated = frames.add(terminated, shape: [t, b])
        c.truncated = frames.add(truncated, shape: [t, b])
        if !finalIndex.isEmpty {
            c.finalObservations = frames.add(finals, shape: [finalIndex.count / 2, d])
            c.finalObservationIndex = frames.add(finalIndex, shape: [finalIndex.count / 2, 2])
        }
        c.bootstrapObservation = frames.add(envs.observations, shape: [b, d])
        c.episodes = episodes
        return WireCodec.encode(.trajectoryChunk(c), tensors: frames.frames)
    }
}

extension Tributary_V1_TrajectoryChunk {
    /// A chunk's header fields; the tensors are added by its source.
    init(runID: String, workerID: String, incarnation: UInt64, envID: String, sequence: UInt64, length: Int, numEnvs: Int) {
        self.init()
        self.runID = runID
        self.workerID = workerID
        self.incarnation = incarnation
        self.envID = envID
        self.sequence = sequence
        self.length = UInt32(length)
        self.numEnvs = UInt32(numEnvs)
    }
}
