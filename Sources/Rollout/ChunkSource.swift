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
/// all copies, actions sampled from the categorical head, behaviour log-probs recorded, and
/// every field of the chunk filled (per-step policy versions, terminated vs truncated, final
/// observations of truncated episodes, the bootstrap observation, finished-episode stats).
public struct EnvironmentSource: ChunkSource {
    public let spec: Tributary_V1_EnvSpec
    public let unrollLength: Int
    public var needsPolicy: Bool { true }
    private var envs: AnyVectorEnvironment
    private var rng: SplitMix64
    private let actions: Int

    /// nil when `envID` is unknown or has a continuous action space (not supported yet).
    public init?(envID: String, numEnvs: Int, unrollLength: Int, seed: UInt64) {
        guard let info = EnvironmentRegistry.info(envID), case .discrete(let n) = info.actionSpace,
              let envs = EnvironmentRegistry.makeVector(envID, count: numEnvs, seed: seed)
        else { return nil }
        self.spec = Self.envSpec(info, numEnvs: numEnvs)
        self.unrollLength = unrollLength
        self.envs = envs
        self.rng = SplitMix64(seed: seed ^ 0x5DEE_CE66)
        self.actions = n
    }

    public static func envSpec(_ info: EnvironmentRegistry.Info, numEnvs: Int) -> Tributary_V1_EnvSpec {
        var env = Tributary_V1_EnvSpec()
        env.envID = info.id
        env.numEnvs = UInt32(numEnvs)
        env.observationShape = [UInt64(info.observationSize)]
        env.observationDtype = .float32
        env.actionShape = []
        env.actionDtype = .int32
        if case .discrete(let n) = info.actionSpace { env.numActions = UInt32(n) }
        return env
    }

    public mutating func next(runID: String, workerID: String, incarnation: UInt64, sequence: UInt64, policy: Policy) -> [OwnedFrame] {
        guard let net = policy.network else { preconditionFailure("EnvironmentSource acts only with weights") }
        let t = unrollLength
        let b = envs.count
        let d = envs.observationSize
        var observations: [Float] = []
        observations.reserveCapacity(t * b * d)
        var actionsTaken: [Int32] = []
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
            let (logp, _) = net.evaluate(obs, rows: b)
            let chosen = Categorical.sample(logp, actions: actions, using: &rng)
            for i in 0..<b { logps.append(logp[i * actions + Int(chosen[i])]) }
            actionsTaken += chosen
            let result = envs.step(chosen.map { [Float($0)] })
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
        c.actions = frames.add(actionsTaken, shape: [t, b])
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
