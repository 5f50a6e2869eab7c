import Corrections
import NeuralNet

/// The PPO family's loss over a batch (`ppo`, `tis-ppo`, `decoupled-ppo`, `appo`; see
/// `Correction` for what each centres its trust region on).
///
/// A batch is *prepared* once, with the parameters at the start of its update (the proximal
/// policy): log-probs of the taken actions, values, and advantages with their value targets —
/// GAE(λ) for ppo/tis-ppo/decoupled-ppo (whitened), V-trace for appo. Then every minibatch of
/// every epoch evaluates the correction's surrogate, the value loss against those targets and
/// the entropy bonus, all averaged over the minibatch's samples (token-mean), and the gradient.
public struct PPOFamilyObjective: Sendable {
    public var correction: Correction
    public var settings = CorrectionSettings()
    public var gamma = 0.99
    public var rewardScale = 1.0
    public var baselineCost: Float = 0.5
    public var entropyCost: Float = 0.0

    public init(correction: Correction) {
        precondition(correction.usesEpochs, "V-trace is VTraceObjective's")
        self.correction = correction
    }

    /// What the start of an update computes, per sample (index t·B + b).
    public struct Prepared: Sendable {
        public var logpProx: [Double]
        public var valuesProx: [Double]
        public var advantages: [Double]
        public var returns: [Double]
        /// appo: the target network's log-probs; empty otherwise.
        public var logpTarget: [Double]
    }

    public func prepare(_ net: ActorCritic, _ b: TrainingBatch, target: ActorCritic?) -> Prepared {
        let n = b.timeSteps * b.batch
        let (input, rows) = b.targetInput()
        let out = net.network.forward(input, batch: rows)
        let stride = net.head.outputs + 1
        func value(_ row: Int) -> Double { Double(out[row * stride + stride - 1]) }
        let logpProx = VTraceObjective.policyTerms(net, out, samples: n, batch: b).logpi.map(Double.init)
        let values = (0..<n).map(value)
        let bootstrap = (0..<b.batch).map { value(n + $0) }
        let (rewards, discounts) = b.valueTargetTerms(gamma: gamma, rewardScale: rewardScale) { value(n + b.batch + $0) }
        var logpTarget: [Double] = []
        if let target {
            let targetOut = target.network.forward(b.observations, batch: n)
            logpTarget = VTraceObjective.policyTerms(target, targetOut, samples: n, batch: b).logpi.map(Double.init)
        }
        let advantages: [Double], returns: [Double]
        if correction == .appo {
            let v = VTrace.compute(timeSteps: b.timeSteps, batch: b.batch, logpi: logpProx, logmu: b.behaviourLogp.map(Double.init),
                                   rewards: rewards, discounts: discounts, values: values, bootstrap: bootstrap,
                                   parameters: settings.vtrace)
            advantages = v.pgAdvantages
            returns = v.vs
        } else {
            let g = PPO.gae(timeSteps: b.timeSteps, batch: b.batch, rewards: rewards, values: values, bootstrap: bootstrap,
                            gamma: gamma, lambda: settings.gaeLambda, terminated: b.terminated, truncated: b.truncated)
            advantages = settings.normalizeAdvantages ? PPO.whiten(g.advantages) : g.advantages
            returns = g.returns
        }
        return Prepared(logpProx: logpProx, valuesProx: values, advantages: advantages, returns: returns, logpTarget: logpTarget)
    }

    /// Loss and gradient on the samples `columns` of a prepared batch (a minibatch of whole
    /// environment columns, all T steps of each).
    public func evaluate(_ net: ActorCritic, _ full: TrainingBatch, _ p: Prepared, columns: [Int]) -> VTraceObjective.Evaluation {
        let b = full.columns(columns)
        let n = b.timeSteps * b.batch
        func pick(_ x: [Double]) -> [Double] { full.pick(x, columns: columns) }
        let (advantages, returns, valuesProx, logpProx) = (pick(p.advantages), pick(p.returns), pick(p.valuesProx), pick(p.logpProx))
        let logpMu = b.behaviourLogp.map(Double.init)

        let (out, cache) = net.network.forwardForTraining(b.observations, batch: n)
        let stride = net.head.outputs + 1
        let policy = VTraceObjective.policyTerms(net, out, samples: n, batch: b)
        let logpi = policy.logpi.map(Double.init)
        let values = (0..<n).map { Double(out[$0 * stride + stride - 1]) }
        let scale = 1 / Double(max(1, n))

        var stats: CorrectionStats
        var policyLoss = 0.0
        var dLogp = [Double](repeating: 0, count: n)
        switch correction {
        case .ppo:
            let r = PPO.compute(logp: logpi, logpOld: logpMu, advantages: advantages, parameters: settings.ppo)
            policyLoss = r.losses.reduce(0, +) * scale
            for i in 0..<n { dLogp[i] = r.gradients[i] * scale }
            stats = r.stats
        case .tisPPO:
            let r = PPO.compute(logp: logpi, logpOld: logpProx, advantages: advantages, parameters: settings.ppo)
            // Sequence and geometric levels work per environment column (its T steps): the
            // Corrections functions take contiguous sequences, so the [T, B] samples are
            // reordered column-major for them and the weights put back.
            let t = b.timeSteps, columnsCount = b.batch
            let order = (0..<n).map { k in (k % t) * columnsCount + k / t }  // column-major k → time-major index
            let sequences = (0..<columnsCount).map { ($0 * t)..<(($0 + 1) * t) }
            let prox = order.map { logpProx[$0] }, mu = order.map { logpMu[$0] }
            let reordered: [Double], isStats: CorrectionStats
            if settings.tisMask {
                let m = TruncatedIS.rejectionMask(logpOld: prox, logpMu: mu, sequences: sequences,
                                                  parameters: .init(level: settings.tis.level, upper: settings.tis.cap))
                (reordered, isStats) = (m.mask, m.stats)
            } else {
                let w = TruncatedIS.weights(logpOld: prox, logpMu: mu, sequences: sequences, parameters: settings.tis)
                (reordered, isStats) = (w.weights, w.stats)
            }
            var weights = [Double](repeating: 0, count: n)
            for (k, i) in order.enumerated() { weights[i] = reordered[k] }
            for i in 0..<n {
                policyLoss += weights[i] * r.losses[i] * scale
                dLogp[i] = weights[i] * r.gradients[i] * scale
            }
            stats = r.stats
            stats.truncatedFraction = isStats.truncatedFraction
            stats.maskedFraction = isStats.maskedFraction
            stats.effectiveSampleSize = isStats.effectiveSampleSize
            stats.meanAbsLogRatio = isStats.meanAbsLogRatio
        case .decoupledPPO:
            let r = DecoupledPPO.compute(logpTheta: logpi, logpProx: logpProx, logpMu: logpMu, advantages: advantages,
                                         parameters: settings.decoupled)
            policyLoss = r.loss
            dLogp = r.gradients
            stats = r.stats
        case .appo:
            let r = APPO.compute(logpTheta: logpi, logpMu: logpMu, logpTarget: p.logpTarget.isEmpty ? logpMu : pick(p.logpTarget),
                                 advantages: advantages, parameters: settings.appo)
            policyLoss = r.losses.reduce(0, +) * scale
            for i in 0..<n { dLogp[i] = r.gradients[i] * scale }
            stats = r.stats
        case .vtrace:
            preconditionFailure("V-trace is VTraceObjective's")
        }
        // approx_kl is always behaviour mu vs the current learner pi (the tisPPO and decoupled
        // corrections' own statistics compare other pairs: the proximal policy with mu or pi).
        stats.approxKL = CorrectionStats.approxKL(logpi: logpi, logmu: logpMu)

        let v = PPO.valueLoss(values: values, oldValues: valuesProx, returns: returns, epsV: settings.valueClip)
        let valueLoss = Double(baselineCost) * v.losses.reduce(0, +) * scale
        let entropy = policy.entropy.reduce(0.0) { $0 + Double($1) } * scale

        var dOut = [Float](repeating: 0, count: n * stride)
        VTraceObjective.policyGradient(net, out, batch: b, samples: n, policy: policy, logpWeights: dLogp.map(Float.init),
                                       entropyWeight: -entropyCost * Float(scale), into: &dOut)
        for i in 0..<n { dOut[i * stride + stride - 1] = Float(Double(baselineCost) * v.gradients[i] * scale) }
        var gradient = net.network.backward(cache, dOut: dOut).parameters
        net.maskGradient(&gradient)
        return VTraceObjective.Evaluation(
            policyLoss: policyLoss, valueLoss: valueLoss, entropy: entropy,
            loss: policyLoss + valueLoss - Double(entropyCost) * entropy, truncatedRhoFraction: stats.truncatedFraction,
            vs: returns, pgAdvantages: advantages, gradient: gradient, stats: stats)
    }
}

extension TrainingBatch {
    /// The batch restricted to some of its environment columns (all T steps of each).
    public func columns(_ chosen: [Int]) -> TrainingBatch {
        let b = chosen.count
        let d = observations.count / max(1, timeSteps * batch)
        let width = continuousActions.count / max(1, timeSteps * batch)
        var obs: [Float] = [], acts: [Int32] = [], cont: [Float] = [], logp: [Float] = [], rew: [Float] = []
        var term: [Bool] = [], trunc: [Bool] = [], finals: [Int: [Float]] = [:]
        obs.reserveCapacity(timeSteps * b * d)
        for t in 0..<timeSteps {
            for (j, c) in chosen.enumerated() {
                let i = t * batch + c
                obs += observations[(i * d)..<((i + 1) * d)]
                if !actions.isEmpty { acts.append(actions[i]) }
                if width > 0 { cont += continuousActions[(i * width)..<((i + 1) * width)] }
                logp.append(behaviourLogp[i])
                rew.append(rewards[i])
                term.append(terminated[i])
                trunc.append(truncated[i])
                if let f = finalObservations[i] { finals[t * b + j] = f }
            }
        }
        let boot = chosen.flatMap { bootstrapObservations[($0 * d)..<(($0 + 1) * d)] }
        return TrainingBatch(timeSteps: timeSteps, batch: b, observations: obs, bootstrapObservations: boot, actions: acts,
                             behaviourLogp: logp, rewards: rew, terminated: term, truncated: trunc, finalObservations: finals,
                             continuousActions: cont)
    }

    /// Per-sample values (index t·B + b) of the chosen columns, in the layout of `columns(_:)`.
    public func pick<T>(_ values: [T], columns chosen: [Int]) -> [T] {
        var out: [T] = []
        out.reserveCapacity(timeSteps * chosen.count)
        for t in 0..<timeSteps { for c in chosen { out.append(values[t * batch + c]) } }
        return out
    }
}
