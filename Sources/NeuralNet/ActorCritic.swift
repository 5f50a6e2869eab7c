/// The policy-and-value network for discrete actions: a shared MLP torso (obs → H → … → H,
/// activated) and two linear heads, n_actions logits and one value. The heads are stored as
/// one output layer of n_actions + 1 units, which computes exactly the same thing.
public struct ActorCritic: Sendable {
    public var network: MLP
    public let actions: Int

    public init(observationSize: Int, hidden: [Int], actions: Int, activation: Activation = .tanh, seed: UInt64) {
        precondition(actions > 0)
        self.actions = actions
        network = MLP(sizes: [observationSize] + hidden + [actions + 1], activation: activation, seed: seed)
    }

    public var observationSize: Int { network.inputSize }

    /// Log-probabilities [rows, actions] and values [rows] of observations [rows, observationSize].
    public func evaluate(_ observations: [Float], rows: Int) -> (logp: [Float], values: [Float]) {
        split(network.forward(observations, batch: rows), rows: rows)
    }

    /// Splits raw outputs [rows, actions + 1] into log-probabilities and values.
    public func split(_ out: [Float], rows: Int) -> (logp: [Float], values: [Float]) {
        var logits = [Float](repeating: 0, count: rows * actions)
        var values = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            for j in 0..<actions { logits[r * actions + j] = out[r * (actions + 1) + j] }
            values[r] = out[r * (actions + 1) + actions]
        }
        return (Categorical.logSoftmax(logits, actions: actions), values)
    }
}
