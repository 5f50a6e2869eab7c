/// What an environment's trajectories look like: the learner's own description of the task it
/// trains, which every chunk is checked against (docs/protocol.md §6), and what a worker
/// declares in its Hello.
///
/// Observations are float32 tensors of `observationShape`; actions are int32 indices
/// (discrete) or float32 vectors (continuous), as `actionSpace` says.
public struct EnvSpec: Sendable, Equatable, Hashable, Codable {
    /// The environment id, e.g. "CartPole-v1".
    public var id: String
    /// Shape of one observation (without the time and environment axes).
    public var observationShape: [Int]
    public var actionSpace: ActionSpace
    /// The time limit of one episode, when the environment has one (gymnasium's TimeLimit).
    public var maxEpisodeSteps: Int?

    public init(id: String, observationShape: [Int], actionSpace: ActionSpace, maxEpisodeSteps: Int? = nil) {
        self.id = id
        self.observationShape = observationShape
        self.actionSpace = actionSpace
        self.maxEpisodeSteps = maxEpisodeSteps
    }

    /// Observations are float32.
    public var observationType: ElementType { .float32 }

    /// Floats in one observation.
    public var observationSize: Int { observationShape.reduce(1, *) }

    /// The stand-in task of transport tests and benchmarks: `observationSize` floats and two
    /// actions.
    public static func synthetic(observationSize: Int) -> EnvSpec {
        EnvSpec(id: "synthetic", observationShape: [observationSize], actionSpace: .discrete(2))
    }
}
