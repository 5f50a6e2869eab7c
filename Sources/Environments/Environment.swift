import Domain

/// One step's outcome. `terminated` (a terminal state: do not bootstrap) and `truncated`
/// (cut by a time limit: bootstrap from the final observation) are kept apart, as gymnasium does.
public struct StepResult: Sendable {
    public var observation: [Float]
    public var reward: Double
    public var terminated: Bool
    public var truncated: Bool
}

/// An exact port of a gymnasium environment: same dynamics, reset distribution, termination
/// and time limit. Physics runs in Double, as gymnasium's does; observations are Float32.
public protocol Environment: Sendable {
    static var id: String { get }
    static var observationSize: Int { get }
    static var actionSpace: ActionSpace { get }
    /// gymnasium's TimeLimit for the registered id.
    static var maxEpisodeSteps: Int { get }
    /// The mean return over 100 episodes that counts as solved: gymnasium's `reward_threshold`
    /// where it has one (CartPole-v1 475, Acrobot-v1 −100, MountainCar-v0 −110); Pendulum-v1
    /// has none in gymnasium, and −200 is the usual bar.
    static var rewardThreshold: Double { get }

    init()
    /// Draws a start state and returns its observation.
    mutating func reset(using rng: inout SplitMix64) -> [Float]
    /// Advances one step without the time limit (`TimeLimited` adds it).
    mutating func stepDynamics(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool)
    /// The full internal state (for parity fixtures, which replay gymnasium's exact states).
    var state: [Double] { get set }
}

/// An environment with gymnasium's TimeLimit: `truncated` once `maxEpisodeSteps` steps ran
/// without termination.
public struct TimeLimited<E: Environment>: Sendable {
    public var env = E()
    public private(set) var elapsed = 0

    public init() {}

    public mutating func reset(using rng: inout SplitMix64) -> [Float] {
        elapsed = 0
        return env.reset(using: &rng)
    }

    public mutating func step(_ action: [Float]) -> StepResult {
        let (obs, reward, terminated) = env.stepDynamics(action)
        elapsed += 1
        return StepResult(observation: obs, reward: reward, terminated: terminated,
                          truncated: !terminated && elapsed >= E.maxEpisodeSteps)
    }
}
