import Corrections
import Domain
import NeuralNet

/// What a trainer is configured with: the network, the optimizer, the loss (its objective, the
/// aggregation mode, the entropy and baseline costs) and the seed. Every field has a working
/// default (CartPole's).
public struct TrainerSettings: Sendable, Equatable, Codable {
    /// Hidden layer sizes of the shared torso.
    public var hidden = [64, 64]
    public var activation = Activation.tanh
    public var learningRate: Float = 3e-3
    public var maxGradNorm: Float = 40
    /// Adam or AMSGrad (`Adam`'s doc says why CartPole's preset uses AMSGrad). nil — what
    /// checkpoints written before the choice existed decode to — is Adam, which they used.
    public var optimizer: Optimizer? = .adam
    public enum Optimizer: String, Sendable, Equatable, Codable, CaseIterable {
        case adam, amsgrad
    }
    public var gamma = 0.99
    public var entropyCost: Float = 0.001
    public var baselineCost: Float = 0.5
    /// Rewards are multiplied by this in the loss (episode returns are reported unscaled).
    public var rewardScale = 1.0
    /// Seed of the network's initialisation and of the minibatch shuffle.
    public var seed: UInt64 = 1
    /// The off-policy correction and every correction's parameters.
    public var correction = Correction.vtrace
    public var corrections = CorrectionSettings()
    /// How per-token losses become one loss: over the batch's mask, each environment column a
    /// sequence (`../shared/specs/algorithms.md` §0).
    public var aggregation = LossAggregation.tokenMean

    public init() {}

    /// The objective's name: the correction, or a group method's preset name.
    public var objectiveName: String { correction == .group ? corrections.group.name : correction.name }

    /// What the objective is configured with.
    public var objectiveSettings: ObjectiveSettings {
        var o = ObjectiveSettings()
        o.gamma = gamma
        o.rewardScale = rewardScale
        o.corrections = corrections
        return o
    }
}

/// Where gradients of several learners would be summed (an all-reduce); one learner's is the
/// identity. Called between backward and the optimizer step of every minibatch.
public protocol GradientReducer: Sendable {
    func reduce(_ gradient: inout [Float])
}

/// One learner: the gradient is its own.
public struct IdentityReducer: GradientReducer {
    public init() {}
    public func reduce(_ gradient: inout [Float]) {}
}

/// What one `step` did.
public struct UpdateResult: Sendable {
    /// The policy version after the step (one more than before, unless skipped).
    public var version: UInt64
    /// Why the update was not applied; nil when it was.
    public var skip: UpdateGuard.Skip?
    /// Optimizer steps taken (epochs × minibatches when applied).
    public var optimizerSteps: Int
    /// The last minibatch's aggregated loss and its parts (the value loss already times the
    /// baseline cost; the loss subtracts the entropy cost times the entropy).
    public var loss: Double
    public var policyLoss: Double
    public var valueLoss: Double
    public var entropy: Double
    /// What the correction did on the last minibatch.
    public var stats: CorrectionStats
    public var applied: Bool { skip == nil }
}

/// The learner's training state and its update, as a value: the network, the optimizer's
/// state, the policy version, the shuffle's random state and the target network (APPO).
/// `step` trains on one batch; `state` and `init(restoring:)` save and restore all of it
/// bit-exactly (checkpoints). No threads, no sockets: the learner's trainer thread drives it,
/// tests call it directly.
public struct Trainer: Sendable {
    public let settings: TrainerSettings
    public internal(set) var net: ActorCritic
    public internal(set) var version: UInt64
    let objective: any Objective
    var adam: Adam
    var target: ActorCritic?
    /// The frozen reference policy of a KL penalty (the network as initialised); nil without one.
    var reference: ActorCritic?
    var shuffle: SplitMix64
    /// SPO's per-prompt value tracker (learner-owned, single writer); nil for other methods.
    var spo: SPOTracker?
    /// Between backward and the optimizer step (identity for one learner).
    public var gradientReducer: any GradientReducer = IdentityReducer()

    /// A fresh network for observations of `observationSize` floats and `head`, at version 1.
    public init(settings: TrainerSettings, observationSize: Int, head: PolicyHead) {
        self.settings = settings
        net = ActorCritic(observationSize: observationSize, hidden: settings.hidden, head: head, activation: settings.activation,
                          seed: settings.seed)
        version = 1
        objective = settings.correction.objective(settings.objectiveSettings)
        adam = Adam(parameterCount: net.network.parameters.count, learningRate: settings.learningRate, maxGradNorm: settings.maxGradNorm,
                    amsgrad: settings.optimizer == .amsgrad)
        shuffle = SplitMix64(seed: settings.seed ^ 0x9E37_79B9)
        if objective.referenceKL != nil { reference = net }
        if settings.correction == .group, case .spo(let p) = settings.corrections.group.advantage { spo = SPOTracker(parameters: p) }
    }

    /// A fresh trainer (optimizer, version 1) whose network starts from `parameters` (another
    /// run's policy, of the same shape); a KL penalty's reference is that policy.
    public init(settings: TrainerSettings, observationSize: Int, head: PolicyHead, parameters: [Float]) {
        self.init(settings: settings, observationSize: observationSize, head: head)
        precondition(parameters.count == net.network.parameters.count, "parameters of another network")
        net.network.parameters = parameters
        if reference != nil { reference = net }
    }

    /// The objective's name (`--correction`).
    public var objectiveName: String { objective.name }

    /// Trains on one batch: epochs × minibatches of whole environment columns, each minibatch's
    /// per-token terms aggregated by the run's mode over the batch's mask, one optimizer step
    /// each; then one new version. An update whose loss, gradient or resulting parameters are
    /// not finite is skipped: the parameters return to where the batch started and the
    /// version stays.
    public mutating func step(_ batch: TrainingBatch) -> UpdateResult {
        if let k = objective.targetRefresh, (version - 1) % UInt64(k) == 0 { target = net }
        var batch = batch
        if let spo {
            batch.promptBaselines = (0..<batch.batch).map { c in
                (batch.promptIDs.isEmpty ? nil : batch.promptIDs[c]).map(spo.baseline) ?? SPOTracker.priorBaseline
            }
        }
        let prepared = prepare(batch)
        let start = net.network.parameters
        let parts = max(1, min(objective.minibatches, batch.batch))
        var result = UpdateResult(version: version, skip: nil, optimizerSteps: 0, loss: 0, policyLoss: 0, valueLoss: 0, entropy: 0,
                                  stats: CorrectionStats())
        passes: for _ in 0..<max(1, objective.epochs) {
            var order = Array(0..<batch.batch)
            if parts > 1 {
                for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(shuffle.next() % UInt64(i + 1))) }
            }
            for m in 0..<parts {
                let columns = stride(from: m, to: order.count, by: parts).map { order[$0] }.sorted()
                let whole = parts == 1
                let minibatch = whole ? batch : batch.columns(columns)
                let e = evaluate(minibatch, prepared: whole ? prepared : prepared.pick(columns, of: batch))
                (result.loss, result.policyLoss, result.valueLoss, result.entropy, result.stats) = (e.loss, e.policyLoss, e.valueLoss, e.entropy, e.terms.stats)
                if let skip = UpdateGuard.check(loss: e.loss, gradient: e.gradient) {
                    result.skip = skip
                    break passes
                }
                adam.update(&net.network.parameters, gradient: e.gradient)
                result.optimizerSteps += 1
            }
        }
        if result.skip == nil, !allFinite(net.network.parameters) {
            result.skip = .init(reason: "non_finite_parameters", detail: "the step made a parameter NaN or infinite")
        }
        if result.skip != nil {
            net.network.parameters = start
            return result
        }
        version += 1
        result.version = version
        if spo != nil { updateTracker(batch) }
        return result
    }

    /// SPO, after an applied update: each answer's prompt's (α, β) take its reward (clamped to
    /// [0, 1]), forgetting by ρ = 2^(−D/D_half) where D is the answer's mean |log μ − log π_new|
    /// over its tokens (the spec's approximation for a service: how far the policy moved from
    /// the one that answered). Once per answer: sequence presets train each chunk once.
    mutating func updateTracker(_ batch: TrainingBatch) {
        guard !batch.promptIDs.isEmpty else { return }
        let now = PolicyPass.forward(net, batch, withTargets: false, training: false).0.logpi
        let rewards = GroupObjective.sequenceRewards(batch, scale: settings.rewardScale)
        for c in 0..<batch.batch {
            guard let prompt = batch.promptIDs[c] else { continue }
            var distance = 0.0, tokens = 0.0
            for t in 0..<batch.timeSteps where batch.mask[t * batch.batch + c] > 0 {
                let i = t * batch.batch + c
                distance += abs(Double(batch.behaviourLogp[i]) - now[i])
                tokens += 1
            }
            spo!.update(prompt, reward: min(1, max(0, rewards[c])), distance: tokens > 0 ? distance / tokens : 0)
        }
    }

    /// What one evaluation gave: the aggregated loss, its parts, the gradient with respect to the
    /// network's parameters (reduced, masked), and the objective's per-token terms.
    public struct Evaluation: Sendable {
        public var loss: Double
        public var policyLoss: Double
        /// Already multiplied by the baseline cost.
        public var valueLoss: Double
        public var entropy: Double
        public var gradient: [Float]
        public var terms: TokenTerms
    }

    /// The loss and gradient of the whole batch with the current parameters, prepared from them
    /// too (what the first minibatch of a one-minibatch `step` computes). For tests: the
    /// gradient against finite differences of the loss with the prepared quantities fixed.
    public func evaluate(_ batch: TrainingBatch) -> Evaluation {
        evaluate(batch, prepared: prepare(batch))
    }

    /// What stays fixed over the batch's update (`Objective.prepare`), from the current parameters.
    func prepare(_ batch: TrainingBatch) -> PreparedBatch {
        guard objective.preparesBatch else { return PreparedBatch() }
        let proximal = objective.needsProximalOutputs
            ? PolicyPass.forward(net, batch, withTargets: true, training: false).0
            : PolicyOutputs(logpi: [], entropy: [], values: [], bootstrapValues: [], finalValues: [])
        let targetOutputs = target.map { PolicyPass.forward($0, batch, withTargets: false, training: false).0 }
        var prepared = objective.prepare(batch, proximal: proximal, target: targetOutputs)
        if let reference { prepared.logpRef = PolicyPass.forward(reference, batch, withTargets: false, training: false).0.logpi }
        return prepared
    }

    /// The aggregated loss of one minibatch, its parts and its gradient.
    func evaluate(_ b: TrainingBatch, prepared: PreparedBatch) -> Evaluation {
        let (current, cache) = PolicyPass.forward(net, b, withTargets: objective.needsTargetRows, training: true)
        let terms = objective.evaluate(b, prepared: prepared, current: current)
        let n = b.samples
        var mask = b.mask.map(Double.init)
        if let extra = terms.mask { for i in 0..<n { mask[i] *= extra[i] } }
        let w = Self.aggregationWeights(settings.aggregation, mask: mask, timeSteps: b.timeSteps, batch: b.batch)
        let cv = Double(settings.baselineCost), ce = Double(settings.entropyCost)
        var policyLoss = 0.0, valueLoss = 0.0, entropy = 0.0
        var logpWeights = [Float](repeating: 0, count: n)
        var entropyWeights = [Float](repeating: 0, count: n)
        var valueWeights = [Float](repeating: 0, count: n)
        // Terms with w = 0 (masked, padding) are skipped, so a NaN or ∞ there cannot leak in.
        for i in 0..<n where w[i] != 0 {
            policyLoss += w[i] * terms.policyLoss[i]
            valueLoss += w[i] * cv * terms.valueLoss[i]
            entropy += w[i] * current.entropy[i]
            logpWeights[i] = Float(w[i] * terms.policyGradient[i])
            entropyWeights[i] = Float(-ce * w[i])
            valueWeights[i] = Float(w[i] * cv * terms.valueGradient[i])
        }
        let rows = objective.needsTargetRows ? b.targetInput().rows : n
        let dOut = PolicyPass.outputGradient(net, current, batch: b, rows: rows, logpWeights: logpWeights,
                                             entropyWeights: entropyWeights, valueWeights: valueWeights)
        var gradient = net.network.backward(cache!, dOut: dOut, inputGradient: false).parameters
        net.maskGradient(&gradient)
        gradientReducer.reduce(&gradient)
        return Evaluation(loss: policyLoss + valueLoss - ce * entropy, policyLoss: policyLoss, valueLoss: valueLoss, entropy: entropy,
                          gradient: gradient, terms: terms)
    }

    /// Per-sample weights of `mode` for a time-major [T, B] batch whose columns are the
    /// sequences: `LossAggregation` takes contiguous sequences, so the mask is read column by
    /// column and the weights put back.
    static func aggregationWeights(_ mode: LossAggregation, mask: [Double], timeSteps t: Int, batch b: Int) -> [Double] {
        if mode == .tokenMean { return mode.weights(mask: mask) }
        let columnMajor = (0..<(t * b)).map { k in mask[(k % t) * b + k / t] }
        let w = mode.weights(mask: columnMajor, sequences: LossAggregation.rows(count: b, length: t), maxLength: t)
        var out = [Double](repeating: 0, count: t * b)
        for k in 0..<(t * b) { out[(k % t) * b + k / t] = w[k] }
        return out
    }
}
