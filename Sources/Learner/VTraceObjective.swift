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
    public var actions: [Int32]
    public var behaviourLogp: [Float]
    public var rewards: [Float]
    public var terminated: [Bool]
    public var truncated: [Bool]
    /// For each truncated step (index t·B + b): the final observation of that episode.
    public var finalObservations: [Int: [Float]]

    public init(timeSteps: Int, batch: Int, observations: [Float], bootstrapObservations: [Float], actions: [Int32],
                behaviourLogp: [Float], rewards: [Float], terminated: [Bool], truncated: [Bool], finalObservations: [Int: [Float]]) {
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

/// IMPALA's loss over a batch, with V-trace targets (§1 of the algorithm spec), averaged over
/// the T·B samples: −A^pg log π(a) + baselineCost · ½ (v − V)² − entropyCost · H.
/// A truncation inside the unroll bootstraps from the episode's final observation
/// (r ← r + γ V(final), d = 0); a termination cuts both bootstrap and trace.
public struct VTraceObjective: Sendable {
    public var gamma: Double = 0.99
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
    }

    /// Forward pass, V-trace targets, loss and gradient.
    public func evaluate(_ net: ActorCritic, _ b: TrainingBatch) -> Evaluation {
        let n = b.timeSteps * b.batch
        let obsSize = net.observationSize
        let finalKeys = b.finalObservations.keys.sorted()
        // One forward over the samples, the bootstrap observations and the final observations.
        var input = b.observations
        input += b.bootstrapObservations
        for k in finalKeys { input += b.finalObservations[k]! }
        let rows = n + b.batch + finalKeys.count
        precondition(input.count == rows * obsSize)
        let (out, cache) = net.network.forwardForTraining(input, batch: rows)
        let (logp, values) = net.split(out, rows: rows)
        let entropy = Categorical.entropy(Array(logp[0..<(n * net.actions)]), actions: net.actions)

        var rewards = b.rewards.map(Double.init)
        var discounts = [Double](repeating: gamma, count: n)
        for i in 0..<n where b.terminated[i] || b.truncated[i] { discounts[i] = 0 }
        for (j, k) in finalKeys.enumerated() where !b.terminated[k] {
            rewards[k] += gamma * Double(values[n + b.batch + j])
        }
        let logpi = (0..<n).map { Double(logp[$0 * net.actions + Int(b.actions[$0])]) }
        let v = (0..<n).map { Double(values[$0]) }
        let result = VTrace.compute(
            timeSteps: b.timeSteps, batch: b.batch, logpi: logpi, logmu: b.behaviourLogp.map(Double.init),
            rewards: rewards, discounts: discounts, values: v,
            bootstrap: (0..<b.batch).map { Double(values[n + $0]) }, parameters: vtrace)

        let scale = 1 / Double(n)
        var policyLoss = 0.0, valueLoss = 0.0, entropySum = 0.0
        for i in 0..<n {
            policyLoss -= result.pgAdvantages[i] * logpi[i] * scale
            valueLoss += Double(baselineCost) * 0.5 * (result.vs[i] - v[i]) * (result.vs[i] - v[i]) * scale
            entropySum += Double(entropy[i]) * scale
        }
        // dL/doutputs: logits rows from the policy and entropy terms, values from the baseline
        // term; bootstrap and final-observation rows are targets only (no gradient).
        let logitGrad = Categorical.gradient(
            logp: Array(logp[0..<(n * net.actions)]), actions: net.actions, taken: b.actions,
            logpWeights: result.pgAdvantages.map { Float(-$0 * scale) },
            entropyWeights: [Float](repeating: -entropyCost * Float(scale), count: n))
        var dOut = [Float](repeating: 0, count: rows * (net.actions + 1))
        for i in 0..<n {
            for j in 0..<net.actions { dOut[i * (net.actions + 1) + j] = logitGrad[i * net.actions + j] }
            dOut[i * (net.actions + 1) + net.actions] = Float(Double(baselineCost) * (v[i] - result.vs[i]) * scale)
        }
        let gradient = net.network.backward(cache, dOut: dOut).parameters
        return Evaluation(policyLoss: policyLoss, valueLoss: valueLoss, entropy: entropySum,
                          loss: policyLoss + valueLoss - Double(entropyCost) * entropySum,
                          truncatedRhoFraction: result.truncatedFraction, vs: result.vs,
                          pgAdvantages: result.pgAdvantages, gradient: gradient)
    }
}
