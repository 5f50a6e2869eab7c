#if canImport(Glibc)
import Domain
import Glibc
#endif

/// What the policy part of an actor-critic's output describes.
public enum PolicyHead: Sendable, Equatable {
    /// Logits of `actions` discrete actions.
    case categorical(actions: Int)
    /// A diagonal Gaussian over `dimensions` continuous action components: a state-dependent
    /// mean and a learned, state-independent (clamped) log standard deviation per component.
    case gaussian(dimensions: Int)

    /// Output units the head takes: n logits, or d means followed by d log-stds.
    public var outputs: Int {
        switch self {
        case .categorical(let n): n
        case .gaussian(let d): 2 * d
        }
    }
}

extension PolicyHead {
    /// The head for an action space: categorical for discrete actions, a diagonal Gaussian for
    /// continuous ones.
    public init(_ space: ActionSpace) {
        switch space {
        case .discrete(let n): self = .categorical(actions: n)
        case .continuous(let d, _, _): self = .gaussian(dimensions: d)
        }
    }
}

/// The policy-and-value network: a shared MLP torso (obs → H → … → H, activated) and two
/// linear heads, the policy's outputs and one value. The heads are stored as one output layer
/// of `head.outputs + 1` units, which computes exactly the same thing.
public struct ActorCritic: Sendable {
    public var network: MLP
    public let head: PolicyHead
    /// Discrete actions (categorical) or action components (Gaussian).
    public let actions: Int

    /// A categorical actor-critic over `actions` discrete actions.
    public init(observationSize: Int, hidden: [Int], actions: Int, activation: Activation = .tanh, seed: UInt64) {
        self.init(observationSize: observationSize, hidden: hidden, head: .categorical(actions: actions),
                  activation: activation, seed: seed)
    }

    /// A Gaussian head starts near mean 0, log-std 0 (its last layer is initialised 100×
    /// smaller), so first actions explore with unit standard deviation. Its log-std units
    /// have their incoming weights held at zero (`maskGradient`), so the log-std is their
    /// bias alone: one learned number per component, the same in every state, as in PPO's
    /// usual continuous head (a state-dependent one collapsed to the clamp on Pendulum).
    public init(observationSize: Int, hidden: [Int], head: PolicyHead, activation: Activation = .tanh, seed: UInt64) {
        switch head {
        case .categorical(let n): precondition(n > 0); actions = n
        case .gaussian(let d): precondition(d > 0); actions = d
        }
        self.head = head
        let scale: Float = if case .gaussian = head { 0.01 } else { 1 }
        network = MLP(sizes: [observationSize] + hidden + [head.outputs + 1], activation: activation, seed: seed, outputScale: scale)
        maskGradient(&network.parameters)
    }

    /// Zeroes what must not change in a gradient (or an initialisation): for a Gaussian head,
    /// the weights into its log-std units. Categorical heads have nothing to mask.
    public func maskGradient(_ g: inout [Float]) {
        guard case .gaussian(let d) = head else { return }
        let l = network.layerCount - 1
        let (inputs, outputs) = (network.sizes[l], network.sizes[l + 1])
        for i in 0..<inputs {
            for j in d..<(2 * d) { g[network.weightOffsets[l] + i * outputs + j] = 0 }
        }
    }

    public var observationSize: Int { network.inputSize }

    /// Log-probabilities [rows, actions] and values [rows] of observations [rows, observationSize]
    /// (categorical heads).
    public func evaluate(_ observations: [Float], rows: Int) -> (logp: [Float], values: [Float]) {
        split(network.forward(observations, batch: rows), rows: rows)
    }

    /// Splits raw outputs [rows, actions + 1] into log-probabilities and values (categorical heads).
    public func split(_ out: [Float], rows: Int) -> (logp: [Float], values: [Float]) {
        precondition(head == .categorical(actions: actions), "split is for categorical heads")
        var logits = [Float](repeating: 0, count: rows * actions)
        var values = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            for j in 0..<actions { logits[r * actions + j] = out[r * (actions + 1) + j] }
            values[r] = out[r * (actions + 1) + actions]
        }
        return (Categorical.logSoftmax(logits, actions: actions), values)
    }

    /// Means, (unclamped) log-stds [rows, d] and values [rows] from raw outputs (Gaussian heads).
    public func splitGaussian(_ out: [Float], rows: Int) -> (mean: [Float], logStd: [Float], values: [Float]) {
        let d = actions, stride = 2 * d + 1
        var mean = [Float](repeating: 0, count: rows * d)
        var logStd = [Float](repeating: 0, count: rows * d)
        var values = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            for j in 0..<d {
                mean[r * d + j] = out[r * stride + j]
                logStd[r * d + j] = out[r * stride + d + j]
            }
            values[r] = out[r * stride + 2 * d]
        }
        return (mean, logStd, values)
    }

    /// Samples one action per row and its log-probability: [rows] action indices as floats
    /// (categorical) or [rows, d] components (Gaussian).
    /// With `distinctRows`, the network runs once per distinct observation (`DistinctRows`).
    public func act(_ observations: [Float], rows: Int, distinctRows: Bool = false, using rng: inout SplitMix64) -> (actions: [Float], logp: [Float]) {
        let out = network.forward(observations, batch: rows, distinctRows: distinctRows)
        switch head {
        case .categorical(let n):
            let (logp, _) = split(out, rows: rows)
            let chosen = Categorical.sample(logp, actions: n, using: &rng)
            return (chosen.map(Float.init), (0..<rows).map { logp[$0 * n + Int(chosen[$0])] })
        case .gaussian(let d):
            // Gaussian.sample and .logProb, written out to avoid per-row arrays.
            let stride = 2 * d + 1
            var actions = [Float](repeating: 0, count: rows * d)
            var logp = [Float](repeating: 0, count: rows)
            for r in 0..<rows {
                var lp: Float = 0
                for j in 0..<d {
                    let ls = Gaussian.clampLogStd(out[r * stride + d + j])
                    let z = Gaussian.standardNormal(using: &rng)
                    actions[r * d + j] = out[r * stride + j] + z * expf(ls)
                    lp += -0.5 * z * z - ls - Gaussian.halfLog2Pi
                }
                logp[r] = lp
            }
            return (actions, logp)
        }
    }
}
