import Domain

/// The environments Tributary ships, by gymnasium id.
public enum EnvironmentRegistry {
    static let types: [any Environment.Type] = [CartPole.self, Acrobot.self, MountainCar.self, Pendulum.self]
        + sequenceTasks.map { $0.environmentType }

    /// The verifiable-reward sequence tasks (group-relative training), by id.
    public static let sequenceTasks: [any SequenceTaskDefinition.Type] = [AddReversed.self, AddDigits.self, AddThreeDigits.self, Reach.self]

    /// The sequence task of `id`; nil for a classic-control id or an unknown one.
    public static func sequenceTask(_ id: String) -> (any SequenceTaskDefinition.Type)? {
        sequenceTasks.first { $0.id == id }
    }

    public static var ids: [String] { types.map { $0.id } }

    /// What a learner and a worker agree on for an environment id; nil when it is not one of ours.
    public static func spec(_ id: String) -> EnvSpec? {
        guard let t = types.first(where: { $0.id == id }) else { return nil }
        return EnvSpec(id: t.id, observationShape: [t.observationSize], actionSpace: t.actionSpace, maxEpisodeSteps: t.maxEpisodeSteps)
    }

    /// The mean return over 100 episodes that counts as solving `id`; nil when it is not one of ours.
    public static func rewardThreshold(_ id: String) -> Double? {
        types.first { $0.id == id }?.rewardThreshold
    }

    /// The most an episode of `id` can return (CartPole pays 1 a step for at most 500 steps; the
    /// others pay at most 0 a step); nil when it is not one of ours. A target above it is never met.
    public static func maxReturn(_ id: String) -> Double? {
        guard let t = types.first(where: { $0.id == id }) else { return nil }
        if sequenceTask(id) != nil { return 1 }
        return t == CartPole.self ? Double(CartPole.maxEpisodeSteps) : 0
    }

    /// `count` copies of environment `id` stepped together, type-erased.
    public static func makeVector(_ id: String, count: Int, seed: UInt64) -> AnyVectorEnvironment? {
        func make<E: Environment>(_: E.Type) -> AnyVectorEnvironment { AnyVectorEnvironment(VectorEnvironment<E>(count: count, seed: seed)) }
        switch id {
        case CartPole.id: return make(CartPole.self)
        case Acrobot.id: return make(Acrobot.self)
        case MountainCar.id: return make(MountainCar.self)
        case Pendulum.id: return make(Pendulum.self)
        default:
            guard let task = sequenceTask(id) else { return nil }
            func makeTask<T: SequenceTaskDefinition>(_: T.Type) -> AnyVectorEnvironment { make(SequenceEnvironment<T>.self) }
            return makeTask(task)
        }
    }
}

/// A `VectorEnvironment` of any environment type.
public struct AnyVectorEnvironment: Sendable {
    public let count: Int
    public let observationSize: Int
    private var box: any VectorStepping

    init<E: Environment>(_ envs: VectorEnvironment<E>) {
        count = envs.count
        observationSize = E.observationSize
        box = envs
    }

    public var observations: [Float] { box.currentObservations }

    public mutating func step(_ actions: [[Float]]) -> VectorStep { box.stepErased(actions) }
}

/// The outcome of one vector step, independent of the environment type.
public struct VectorStep: Sendable {
    public var observations: [Float]
    public var rewards: [Float]
    public var terminated: [Bool]
    public var truncated: [Bool]
    public var finalObservations: [Int: [Float]]
    public var episodes: [(env: Int, episodeReturn: Double, length: Int, terminated: Bool)]
}

protocol VectorStepping: Sendable {
    var currentObservations: [Float] { get }
    mutating func stepErased(_ actions: [[Float]]) -> VectorStep
}

extension VectorEnvironment: VectorStepping {
    var currentObservations: [Float] { observations }
    mutating func stepErased(_ actions: [[Float]]) -> VectorStep {
        let s = step(actions)
        return VectorStep(observations: s.observations, rewards: s.rewards, terminated: s.terminated, truncated: s.truncated,
                          finalObservations: s.finalObservations,
                          episodes: s.episodes.map { ($0.env, $0.episodeReturn, $0.length, $0.terminated) })
    }
}
