import Corrections

/// A loss the trainer minimises: given the numbers of a forward pass, the per-token policy and
/// value losses and their derivatives. The trainer owns the network, the forward and backward
/// passes, the loss aggregation (the run's `LossAggregation` mode over the batch's mask), the
/// entropy bonus and the optimizer; an objective never sees parameters. One file per objective;
/// `Correction.objective(...)` is the only place that picks one.
///
/// The calling loop, per batch (`Trainer.step`):
///
///     prepared = preparesBatch ? prepare(batch, proximal: forward(θ_start), target: forward(θ_target)) : .init()
///     for epoch in 0..<epochs, minibatch in minibatches(of: batch) {
///         terms = evaluate(minibatch, prepared: prepared.pick(minibatch), current: forward(θ))
///         θ ← adam(θ, ∇ aggregate(terms.policyLoss + c_v·terms.valueLoss − c_e·H))
///     }
public protocol Objective: Sendable {
    /// The name runs and metrics use (`--correction`).
    var name: String { get }
    /// Passes over each batch, and minibatches of whole environment columns per pass.
    var epochs: Int { get }
    var minibatches: Int { get }
    /// Whether `prepare` runs (a forward pass with the parameters at the batch's start).
    var preparesBatch: Bool { get }
    /// Whether `evaluate` needs the current values of the minibatch's bootstrap and final
    /// observations (V-trace computes its targets on the fly).
    var needsTargetRows: Bool { get }
    /// A target network refreshed every this many batches (APPO); nil: none.
    var targetRefresh: Int? { get }
    /// Whether `prepare` needs the proximal forward pass's outputs (when false it gets empty
    /// ones and the pass is saved).
    var needsProximalOutputs: Bool { get }
    /// A KL penalty to the reference policy (the network as initialised): the trainer keeps
    /// that network and fills `PreparedBatch.logpRef`. nil: none.
    var referenceKL: KL.Parameters? { get }

    /// Once per batch: what stays fixed during its update, from the proximal forward pass
    /// (target rows included) and, with a target network, its forward pass (samples only).
    func prepare(_ batch: TrainingBatch, proximal: PolicyOutputs, target: PolicyOutputs?) -> PreparedBatch
    /// Per-token terms of a minibatch, from the current parameters' forward pass.
    func evaluate(_ batch: TrainingBatch, prepared: PreparedBatch, current: PolicyOutputs) -> TokenTerms
}

extension Objective {
    public var epochs: Int { 1 }
    public var minibatches: Int { 1 }
    public var preparesBatch: Bool { true }
    public var needsTargetRows: Bool { false }
    public var targetRefresh: Int? { nil }
    public var needsProximalOutputs: Bool { true }
    public var referenceKL: KL.Parameters? { nil }
}

/// What stays fixed over a batch's update, per sample (index t·B + b); empty arrays when an
/// objective does not use them.
public struct PreparedBatch: Sendable {
    /// log π_prox(a), V_prox(x): the parameters at the start of the update.
    public var logpProx: [Double] = []
    public var valuesProx: [Double] = []
    /// Advantages and value targets.
    public var advantages: [Double] = []
    public var returns: [Double] = []
    /// log π_target(a) (APPO's target network).
    public var logpTarget: [Double] = []
    /// log π_ref(a) (the reference policy of a KL penalty).
    public var logpRef: [Double] = []
    /// Group-relative methods: the batch's group statistics (whole batch, not per minibatch).
    public var groupStats: CorrectionStats? = nil

    public init(logpProx: [Double] = [], valuesProx: [Double] = [], advantages: [Double] = [], returns: [Double] = [],
                logpTarget: [Double] = []) {
        self.logpProx = logpProx
        self.valuesProx = valuesProx
        self.advantages = advantages
        self.returns = returns
        self.logpTarget = logpTarget
    }

    /// The same for the columns of a minibatch (`TrainingBatch.columns`).
    public func pick(_ columns: [Int], of batch: TrainingBatch) -> PreparedBatch {
        func p(_ x: [Double]) -> [Double] { x.isEmpty ? x : batch.pick(x, columns: columns) }
        var picked = PreparedBatch(logpProx: p(logpProx), valuesProx: p(valuesProx), advantages: p(advantages), returns: p(returns),
                                   logpTarget: p(logpTarget))
        picked.logpRef = p(logpRef)
        picked.groupStats = groupStats
        return picked
    }
}

/// An objective's per-token result on a minibatch.
public struct TokenTerms: Sendable {
    /// l_i, the policy loss of each sample, and ∂l_i/∂log π(a_i).
    public var policyLoss: [Double]
    public var policyGradient: [Double]
    /// The value loss of each sample (before the baseline cost), and ∂/∂V(x_i).
    public var valueLoss: [Double]
    public var valueGradient: [Double]
    /// Per-sample weights in the aggregation, on top of the batch's mask (an objective that
    /// drops samples sets 0); nil: all 1.
    public var mask: [Double]?
    /// What the correction did: fractions clipped/truncated/masked, ESS, mean |log ratio|,
    /// approx KL (behaviour vs learner).
    public var stats: CorrectionStats
    /// The advantages and value targets used (for tests and metrics).
    public var advantages: [Double]
    public var returns: [Double]

    public init(policyLoss: [Double], policyGradient: [Double], valueLoss: [Double], valueGradient: [Double],
                mask: [Double]? = nil, stats: CorrectionStats, advantages: [Double], returns: [Double]) {
        self.policyLoss = policyLoss
        self.policyGradient = policyGradient
        self.valueLoss = valueLoss
        self.valueGradient = valueGradient
        self.mask = mask
        self.stats = stats
        self.advantages = advantages
        self.returns = returns
    }

    /// ½ (V − target)² per sample and its derivative V − target: the plain value loss.
    public static func squaredError(values: [Double], targets: [Double]) -> (losses: [Double], gradients: [Double]) {
        let d = zip(values, targets).map { $0 - $1 }
        return (d.map { 0.5 * $0 * $0 }, d)
    }
}

/// What every objective is configured with: the discount, the reward scale and each
/// correction's own parameters.
public struct ObjectiveSettings: Sendable, Equatable, Codable {
    public var gamma = 0.99
    /// Rewards are multiplied by this before anything else; episode returns are reported unscaled.
    public var rewardScale = 1.0
    public var corrections = CorrectionSettings()
    public init() {}
}
