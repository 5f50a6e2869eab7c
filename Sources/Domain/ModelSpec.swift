/// The network a worker builds to act: its family, layer sizes, activation and head. What a
/// learner's `Welcome` and `Weights` describe (docs/protocol.md §8 gives each family's exact
/// parameter layout); the wire mapping is Protocol's.
public struct ModelSpec: Sendable, Equatable, Hashable, Codable {
    /// "mlp-actor-critic" for Tributary's policy networks; "stand-in" for the synthetic trainer.
    public var family: String
    public var hiddenSizes: [Int]
    /// "tanh" or "relu".
    public var activation: String
    /// "categorical", "gaussian" or "none".
    public var head: String
    public var observationSize: Int
    /// Discrete actions (categorical) or action components (Gaussian).
    public var actionSize: Int

    public init(family: String, hiddenSizes: [Int] = [], activation: String = "", head: String = "none",
                observationSize: Int = 0, actionSize: Int = 0) {
        self.family = family
        self.hiddenSizes = hiddenSizes
        self.activation = activation
        self.head = head
        self.observationSize = observationSize
        self.actionSize = actionSize
    }

    /// No model (nothing published yet).
    public static let none = ModelSpec(family: "")
}
