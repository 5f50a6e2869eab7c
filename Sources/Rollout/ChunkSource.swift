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
    /// Whether small tensors share one frame (set from `Welcome.shared_tensor_frames`; off
    /// until a learner offers it, so an older learner still reads every chunk).
    var sharesTensorFrames: Bool { get set }
}

extension SyntheticSource: ChunkSource {
    public var needsPolicy: Bool { false }
    public mutating func next(runID: String, workerID: String, incarnation: UInt64, sequence: UInt64, policy: Policy) -> [OwnedFrame] {
        next(runID: runID, workerID: workerID, incarnation: incarnation, sequence: sequence, policyVersion: policy.version)
    }
}

/// One step of a worker's B environment copies: what the actor saw and did, and what the
/// environments answered.
public struct ActedStep: Sendable {
    /// [B, obs]: the observations the actions were chosen from.
    public var observations: [Float]
    /// [B, w]: the actions (a discrete index as one float, or a continuous vector).
    public var actions: [Float]
    /// log μ(a | x) of each action under the sampling distribution.
    public var logp: [Float]
    public var rewards: [Float]
    public var terminated: [Bool]
    public var truncated: [Bool]
    /// The last observation of each copy whose episode was cut (time limit) at this step.
    public var finalObservations: [Int: [Float]]
    public var episodes: [(env: Int, episodeReturn: Double, length: Int, terminated: Bool)]
    /// The policy version that chose the actions.
    public var policyVersion: UInt64
}

/// Acts in B copies of an environment with the current policy, one step at a time (Acme's
/// Actor): one batched forward pass for all copies, actions sampled from the policy's head
/// (categorical for discrete action spaces, diagonal Gaussian for continuous ones; the
/// environment clips to its bounds, the log-prob is of the sampled action).
public struct EnvironmentActor: Sendable {
    private var envs: AnyVectorEnvironment
    private var rng: SplitMix64
    /// Floats per action: 1 (a discrete index) or the continuous action's components.
    public let actionWidth: Int

    /// nil when `envID` is unknown.
    public init?(envID: String, numEnvs: Int, seed: UInt64) {
        guard let spec = EnvironmentRegistry.spec(envID), let envs = EnvironmentRegistry.makeVector(envID, count: numEnvs, seed: seed)
        else { return nil }
        self.envs = envs
        self.rng = SplitMix64(seed: seed ^ 0x5DEE_CE66)
        actionWidth = max(1, spec.actionSpace.shape.reduce(1, *))
    }

    public var count: Int { envs.count }
    /// The current observations of every copy, [B, obs].
    public var observations: [Float] { envs.observations }

    /// One step of every copy with `policy`'s network.
    public mutating func step(_ policy: Policy) -> ActedStep {
        guard let net = policy.network else { preconditionFailure("EnvironmentActor acts only with weights") }
        let b = envs.count
        let obs = envs.observations
        let (chosen, logp) = net.act(obs, rows: b, using: &rng)
        let w = actionWidth
        let result = envs.step((0..<b).map { Array(chosen[($0 * w)..<(($0 + 1) * w)]) })
        return ActedStep(observations: obs, actions: chosen, logp: logp, rewards: result.rewards, terminated: result.terminated,
                         truncated: result.truncated, finalObservations: result.finalObservations, episodes: result.episodes,
                         policyVersion: policy.version)
    }
}

/// Collects acted steps into chunks of T steps and encodes them as wire frames (Acme's Adder):
/// every field of the chunk (per-step policy versions, terminated vs truncated, final
/// observations of truncated episodes, the bootstrap observation, finished-episode stats).
public struct ChunkAdder: Sendable {
    public let spec: Tributary_V1_EnvSpec
    public let unrollLength: Int
    private let numEnvs: Int
    private let observationSize: Int
    private let actionWidth: Int
    private let discrete: Bool
    private var versions: [UInt64] = []
    private var observations: [Float] = []
    private var actions: [Float] = []
    private var logps: [Float] = []
    private var rewards: [Float] = []
    private var terminated: [UInt8] = []
    private var truncated: [UInt8] = []
    private var finals: [Float] = []
    private var finalIndex: [Int32] = []
    private var episodes: [Tributary_V1_EpisodeStats] = []
    /// Whether the small tensors of a chunk share one frame (docs/protocol.md §2).
    public var sharesTensorFrames = false

    public init(spec: Tributary_V1_EnvSpec, unrollLength: Int) {
        self.spec = spec
        self.unrollLength = unrollLength
        numEnvs = Int(spec.numEnvs)
        observationSize = spec.observationShape.reduce(1) { $0 * Int($1) }
        discrete = spec.numActions > 0
        actionWidth = discrete ? 1 : spec.actionShape.reduce(1) { $0 * Int($1) }
        reserve()
    }

    private mutating func reserve() {
        let n = unrollLength * numEnvs
        observations.reserveCapacity(n * observationSize)
        actions.reserveCapacity(n * actionWidth)
        logps.reserveCapacity(n)
        rewards.reserveCapacity(n)
        terminated.reserveCapacity(n)
        truncated.reserveCapacity(n)
    }

    /// Steps added since the last chunk.
    public var steps: Int { versions.count }
    public var isFull: Bool { versions.count >= unrollLength }

    public mutating func add(_ s: ActedStep) {
        let step = versions.count
        versions.append(s.policyVersion)
        observations += s.observations
        actions += s.actions
        logps += s.logp
        rewards += s.rewards
        terminated += s.terminated.map { $0 ? 1 : 0 }
        truncated += s.truncated.map { $0 ? 1 : 0 }
        for i in 0..<numEnvs where s.truncated[i] {
            finals += s.finalObservations[i]!
            finalIndex += [Int32(step), Int32(i)]
        }
        for e in s.episodes {
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

    /// The chunk of the T steps added, with the observations after the last (`bootstrap`);
    /// the adder starts the next chunk empty.
    /// `group`: the chunk's group (its columns are K samples of one prompt, group methods).
    public mutating func chunk(runID: String, workerID: String, incarnation: UInt64, sequence: UInt64, bootstrap: [Float],
                               group: ChunkGroup? = nil) -> [OwnedFrame] {
        precondition(isFull, "a chunk needs \(unrollLength) steps, the adder has \(steps)")
        let (t, b, d) = (unrollLength, numEnvs, observationSize)
        var frames = TensorFrames(sharingBelow: sharesTensorFrames ? TensorFrames.sharedTensorLimit : 0)
        var c = Tributary_V1_TrajectoryChunk(
            runID: runID, workerID: workerID, incarnation: incarnation, envID: spec.envID, sequence: sequence, length: t, numEnvs: b)
        c.policyVersions = frames.add(versions, shape: [t])
        c.observations = frames.add(observations, shape: [t, b, d])
        c.actions = discrete ? frames.add(actions.map { Int32($0) }, shape: [t, b]) : frames.add(actions, shape: [t, b, actionWidth])
        c.behaviourLogp = frames.add(logps, shape: [t, b])
        c.rewards = frames.add(rewards, shape: [t, b])
        c.terminated = frames.add(terminated, shape: [t, b])
        c.truncated = frames.add(truncated, shape: [t, b])
        if !finalIndex.isEmpty {
            c.finalObservations = frames.add(finals, shape: [finalIndex.count / 2, d])
            c.finalObservationIndex = frames.add(finalIndex, shape: [finalIndex.count / 2, 2])
        }
        c.bootstrapObservation = frames.add(bootstrap, shape: [b, d])
        c.episodes = episodes
        if let group {
            c.groupID = group.id
            c.sampleIndex = group.firstSample
            c.promptID = group.promptID
        }
        let encoded = WireCodec.encode(.trajectoryChunk(c), tensors: frames.frames)
        versions.removeAll(keepingCapacity: true)
        observations.removeAll(keepingCapacity: true)
        actions.removeAll(keepingCapacity: true)
        logps.removeAll(keepingCapacity: true)
        rewards.removeAll(keepingCapacity: true)
        terminated.removeAll(keepingCapacity: true)
        truncated.removeAll(keepingCapacity: true)
        finals.removeAll(keepingCapacity: true)
        finalIndex.removeAll(keepingCapacity: true)
        episodes.removeAll(keepingCapacity: true)
        return encoded
    }
}

/// The group a chunk's columns belong to: K samples of one prompt (`group_id`, the index of its
/// first column within the group, the prompt's stable id).
public struct ChunkGroup: Sendable, Equatable {
    public var id: UInt64
    public var firstSample: UInt32
    public var promptID: String
    public init(id: UInt64, firstSample: UInt32 = 0, promptID: String) {
        self.id = id
        self.firstSample = firstSample
        self.promptID = promptID
    }
}

/// A worker's chunks from real environments: an `EnvironmentActor` for T steps, a `ChunkAdder`
/// to make the chunk.
public struct EnvironmentSource: ChunkSource {
    public var spec: Tributary_V1_EnvSpec { adder.spec }
    public var unrollLength: Int { adder.unrollLength }
    public var needsPolicy: Bool { true }
    public var sharesTensorFrames: Bool {
        get { adder.sharesTensorFrames }
        set { adder.sharesTensorFrames = newValue }
    }
    private var actor: EnvironmentActor
    private var adder: ChunkAdder

    /// nil when `envID` is unknown.
    public init?(envID: String, numEnvs: Int, unrollLength: Int, seed: UInt64) {
        guard let spec = EnvironmentRegistry.spec(envID), let actor = EnvironmentActor(envID: envID, numEnvs: numEnvs, seed: seed)
        else { return nil }
        self.actor = actor
        self.adder = ChunkAdder(spec: spec.wire(numEnvs: numEnvs), unrollLength: unrollLength)
    }

    public mutating func next(runID: String, workerID: String, incarnation: UInt64, sequence: UInt64, policy: Policy) -> [OwnedFrame] {
        while !adder.isFull { adder.add(actor.step(policy)) }
        return adder.chunk(runID: runID, workerID: workerID, incarnation: incarnation, sequence: sequence, bootstrap: actor.observations)
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
