#if canImport(Glibc)
import Glibc
#endif
import Corrections
import NeuralNet

/// One batch of experience in the learner's layout: [T, B] time-major, as chunks carry it.
public struct TrainingBatch: Sendable {
    public var timeSteps: Int
    public var batch: Int
    /// [T, B, obs] observations followed by nothing else.
    public var observations: [Float]
    /// [B, obs] observation after the last step.
    public var bootstrapObservations: [Float]
    /// Discrete actions [T, B] (categorical policies).
    public var actions: [Int32]
    /// Continuous actions [T, B, d] (Gaussian policies); empty for discrete ones.
    public var continuousActions: [Float]
    public var behaviourLogp: [Float]
    public var rewards: [Float]
    public var terminated: [Bool]
    public var truncated: [Bool]
    /// For each truncated step (index t·B + b): the final observation of that episode.
    public var finalObservations: [Int: [Float]]

    public init(timeSteps: Int, batch: Int, observations: [Float], bootstrapObservations: [Float], actions: [Int32],
                behaviourLogp: [Float], rewards: [Float], terminated: [Bool], truncated: [Bool], finalObservations: [Int: [Float]],
                continuousActions: [Float] = []) {
        self.continuousActions = continuousActions
        self.timeSteps = timeSteps
        self.batch = batch
        self.observations = observations
        self.bootstrapObservations = bootstrapObservations
        self.actions = actions
        self.behaviourLogp = behaviourLogp
        self.rewards = rewards
        self.terminated = terminated
        self.truncated = truncated
        self.finalObservations = finalObservations
    }
}

extension TrainingBatch {
    /// The rows of one forward pass that gives every value a target needs: the T·B samples,
    /// then the B bootstrap observations, then the final observation of each truncated step
    /// (in increasing sample index).
    func targetInput() -> (input: [Float], rows: Int) {
        let finalKeys = finalObservations.keys.sorted()
        var input = observations
        input += bootstrapObservations
        for k in finalKeys { input += finalObservations[k]! }
        return (input, timeSteps * batch + batch + finalKeys.count)
    }

    /// Rewards (scaled) and discounts for value targets. A termination cuts bootstrap and trace
    /// (d = 0); a time limit inside the unroll does too, after folding γ V(final observation)
    /// into the reward (§1). `finalValue(j)` is the value of the j-th final observation of
    /// `targetInput()`.
    func valueTargetTerms(gamma: Double, rewardScale: Double, finalValue: (Int) -> Double) -> (rewards: [Double], discounts: [Double]) {
        let n = timeSteps * batch
        var rewards = self.rewards.map { Double($0) * rewardScale }
        var discounts = [Double](repeating: gamma, count: n)
        for i in 0..<n where terminated[i] || truncated[i] { discounts[i] = 0 }
        for (j, k) in finalObservations.keys.sorted().enumerated() where !terminated[k] {
            rewards[k] += gamma * finalValue(j)
        }
        return (rewards, discounts)
    }
}

/// IMPALA's loss over a batch, with V-trace targets (§1 of the algorithm spec), averaged over
/// the T·B samples: −A^pg log π(a) + baselineCost · ½ (v − V)² − entropyCost · H.
/// A truncation inside the unroll bootstraps from the episode's final observation
/// (r ← r + γ V(final), d = 0); a termination cuts both bootstrap and trace.
public struct VTraceObjective: Sendable {
    public var gamma: Double = 0.99
    /// Rewards are multiplied by this before anything else (Pendulum's −16…0 per step makes
    /// value targets in the hundreds without it).
    public var rewardScale: Double = 1
    public var baselineCost: Float = 0.5
    public var entropyCost: Float = 0.01
    public var vtrace = VTrace.Parameters()

    public init() {}

    /// What one evaluation produced: the loss parts, the V-trace statistics and the gradient
    /// with respect to the network's parameters (targets held as constants).
    public struct Evaluation: Sendable {
        public var policyLoss: Double
        /// Already multiplied by `baselineCost`.
        public var valueLoss: Double
        /// Mean entropy (the loss subtracts `entropyCost` times this).
        public var entropy: Double
        public var loss: Double
        public var truncatedRhoFraction: Double
        /// The V-trace targets and advantages used, [T, B].
        public var vs: [Double]
        public var pgAdvantages: [Double]
        public var gradient: [Float]
        /// What the correction did: fractions clipped/truncated/masked, ESS, mean |log ratio|,
        /// approx KL (behaviour vs learner).
        public var stats = CorrectionStats()
    }

    /// Forward pass, V-trace targets, loss and gradient.
    public func evaluate(_ net: ActorCritic, _ b: TrainingBatch) -> Evaluation {
        let n = b.timeSteps * b.batch
        let (input, rows) = b.targetInput()
        precondition(input.count == rows * net.observationSize)
        let (out, cache) = net.network.forwardForTraining(input, batch: rows)
        let stride = net.head.outputs + 1
        let policy = Self.policyTerms(net, out, samples: n, batch: b)
        let (rewards, discounts) = b.valueTargetTerms(gamma: gamma, rewardScale: rewardScale) {
            Double(out[(n + b.batch + $0) * stride + stride - 1])
        }
        let logpi = policy.logpi.map(Double.init)
        let v = (0..<n).map { Double(out[$0 * stride + stride - 1]) }
        let result = VTrace.compute(
            timeSteps: b.timeSteps, batch: b.batch, logpi: logpi, logmu: b.behaviourLogp.map(Double.init),
            rewards: rewards, discounts: discounts, values: v,
            bootstrap: (0..<b.batch).map { Double(out[(n + $0) * stride + stride - 1]) }, parameters: vtrace)

        let scale = 1 / Double(n)
        var policyLoss = 0.0, valueLoss = 0.0, entropySum = 0.0
        for i in 0..<n {
            policyLoss -= result.pgAdvantages[i] * logpi[i] * scale
            valueLoss += Double(baselineCost) * 0.5 * (result.vs[i] - v[i]) * (result.vs[i] - v[i]) * scale
            entropySum += Double(policy.entropy[i]) * scale
        }
        // dL/doutputs: policy columns from the policy and entropy terms, the value column from
        // the baseline term; bootstrap and final-observation rows are targets only (no gradient).
        var dOut = [Float](repeating: 0, count: rows * stride)
        Self.policyGradient(net, out, batch: b, samples: n, policy: policy,
                            logpWeights: result.pgAdvantages.map { Float(-$0 * scale) },
                            entropyWeight: -entropyCost * Float(scale), into: &dOut)
        for i in 0..<n {
            dOut[i * stride + stride - 1] = Float(Double(baselineCost) * (v[i] - result.vs[i]) * scale)
        }
        var gradient = net.network.backward(cache, dOut: dOut).parameters
        net.maskGradient(&gradient)
        return Evaluation(policyLoss: policyLoss, valueLoss: valueLoss, entropy: entropySum,
                          loss: policyLoss + valueLoss - Double(entropyCost) * entropySum,
                          truncatedRhoFraction: result.truncatedFraction, vs: result.vs,
                          pgAdvantages: result.pgAdvantages, gradient: gradient, stats: result.stats)
    }

    /// Per-sample log π(a) of the taken action and entropy, from raw outputs of the first
    /// `samples` rows, plus what the gradient needs again (categorical log-probabilities).
    struct PolicyTerms {
        var logpi: [Float]
        var entropy: [Float]
        var logp: [Float] = []
    }

    static func policyTerms(_ net: ActorCritic, _ out: [Float], samples n: Int, batch b: TrainingBatch) -> PolicyTerms {
        let stride = net.head.outputs + 1
        switch net.head {
        case .categorical(let k):
            var logits = [Float](repeating: 0, count: n * k)
            for i in 0..<n { for j in 0..<k { logits[i * k + j] = out[i * stride + j] } }
            let logp = Categorical.logSoftmax(logits, actions: k)
            let logpi = (0..<n).map { logp[$0 * k + Int(b.actions[$0])] }
            return PolicyTerms(logpi: logpi, entropy: Categorical.entropy(logp, actions: k), logp: logp)
        case .gaussian(let d):
            precondition(b.continuousActions.count == n * d, "a Gaussian policy needs continuous actions")
            // Gaussian.logProb and .entropy, written out to avoid per-row arrays.
            var logpi = [Float](repeating: 0, count: n)
            var entropy = [Float](repeating: 0, count: n)
            let halfLog2Pi = 0.5 * Float(log(2 * Double.pi))
            for i in 0..<n {
                var lp: Float = 0, h: Float = 0
                for j in 0..<d {
                    let ls = Gaussian.clampLogStd(out[i * stride + d + j])
                    let z = (b.continuousActions[i * d + j] - out[i * stride + j]) / expf(ls)
                    lp += -0.5 * z * z - ls - halfLog2Pi
                    h += ls + 0.5 + halfLog2Pi
                }
                logpi[i] = lp
                entropy[i] = h
            }
            return PolicyTerms(logpi: logpi, entropy: entropy)
        }
    }

    /// Writes dL/d(policy outputs) of L = Σ_i w_i log π(a_i) + c H_i into `dOut`'s policy columns.
    static func policyGradient(_ net: ActorCritic, _ out: [Float], batch b: TrainingBatch, samples n: Int, policy: PolicyTerms,
                               logpWeights: [Float], entropyWeight: Float, into dOut: inout [Float]) {
        let stride = net.head.outputs + 1
        switch net.head {
        case .categorical(let k):
            let g = Categorical.gradient(logp: policy.logp, actions: k, taken: b.actions, logpWeights: logpWeights,
                                         entropyWeights: [Float](repeating: entropyWeight, count: n))
            for i in 0..<n { for j in 0..<k { dOut[i * stride + j] = g[i * k + j] } }
        case .gaussian(let d):
            // Gaussian.logProbGradient, written out: ∂/∂m = (a − m)/s², ∂/∂log s = z² − 1, and
            // ∂H/∂log s = 1, the log-std terms zero where the clamp is active.
            for i in 0..<n {
                for j in 0..<d {
                    let raw = out[i * stride + d + j]
                    let s = expf(Gaussian.clampLogStd(raw))
                    let diff = b.continuousActions[i * d + j] - out[i * stride + j]
                    let inside: Float = Gaussian.logStdRange.contains(raw) ? 1 : 0
                    dOut[i * stride + j] = logpWeights[i] * diff / (s * s)
                    dOut[i * stride + d + j] = inside * (logpWeights[i] * (diff * diff / (s * s) - 1) + entropyWeight)
                }
            }
        }
    }
}
