import Corrections

/// PPO-clip centred on the proximal policy (the parameters at the start of the update), times a
/// truncated importance weight min(π_prox/μ, C) for the gap between the proximal and the
/// behaviour policy (`../shared/specs/algorithms.md` §3), at token, sequence or geometric level
/// — or, with `tisMask`, samples whose ratio leaves [1/C, C] dropped (the rejection variant).
public struct TISPPOObjective: Objective {
    public var settings: ObjectiveSettings

    public init(settings: ObjectiveSettings = ObjectiveSettings()) {
        self.settings = settings
    }

    public var name: String { Correction.tisPPO.name }
    public var epochs: Int { settings.corrections.epochs }
    public var minibatches: Int { settings.corrections.minibatches }

    public func prepare(_ batch: TrainingBatch, proximal: PolicyOutputs, target: PolicyOutputs?) -> PreparedBatch {
        GAEPreparation.prepare(batch, proximal: proximal, settings: settings)
    }

    public func evaluate(_ b: TrainingBatch, prepared p: PreparedBatch, current o: PolicyOutputs) -> TokenTerms {
        let k = settings.corrections
        let n = b.samples
        let logpMu = b.behaviourLogp.map(Double.init)
        let r = PPO.compute(logp: o.logpi, logpOld: p.logpProx, advantages: p.advantages, parameters: k.ppo)
        // Sequence and geometric levels work per environment column (its T steps): the
        // Corrections functions take contiguous sequences, so the [T, B] samples are reordered
        // column-major for them and the weights put back.
        let t = b.timeSteps, columns = b.batch
        let order = (0..<n).map { i in (i % t) * columns + i / t }  // column-major k → time-major index
        let sequences = (0..<columns).map { ($0 * t)..<(($0 + 1) * t) }
        let prox = order.map { p.logpProx[$0] }, mu = order.map { logpMu[$0] }
        let reordered: [Double], isStats: CorrectionStats
        if k.tisMask {
            let m = TruncatedIS.rejectionMask(logpOld: prox, logpMu: mu, sequences: sequences,
                                              parameters: .init(level: k.tis.level, upper: k.tis.cap))
            (reordered, isStats) = (m.mask, m.stats)
        } else {
            let w = TruncatedIS.weights(logpOld: prox, logpMu: mu, sequences: sequences, parameters: k.tis)
            (reordered, isStats) = (w.weights, w.stats)
        }
        var weights = [Double](repeating: 0, count: n)
        for (j, i) in order.enumerated() { weights[i] = reordered[j] }
        var stats = r.stats
        stats.truncatedFraction = isStats.truncatedFraction
        stats.maskedFraction = isStats.maskedFraction
        stats.effectiveSampleSize = isStats.effectiveSampleSize
        stats.meanAbsLogRatio = isStats.meanAbsLogRatio
        stats.approxKL = CorrectionStats.approxKL(logpi: o.logpi, logmu: logpMu)
        let v = GAEPreparation.valueTerms(o, p, settings: settings)
        return TokenTerms(policyLoss: (0..<n).map { weights[$0] * r.losses[$0] }, policyGradient: (0..<n).map { weights[$0] * r.gradients[$0] },
                          valueLoss: v.losses, valueGradient: v.gradients, stats: stats, advantages: p.advantages, returns: p.returns)
    }
}
