import Corrections

/// AReaL's decoupled PPO (`../shared/specs/algorithms.md` §4): PPO-clip centred on the proximal
/// policy, each sample weighted by the behaviour weight π_prox/μ, which is filtered to 0 above a
/// cap (`behav_imp_weight_cap`).
public struct DecoupledPPOObjective: Objective {
    public var settings: ObjectiveSettings

    public init(settings: ObjectiveSettings = ObjectiveSettings()) {
        self.settings = settings
    }

    public var name: String { Correction.decoupledPPO.name }
    public var epochs: Int { settings.corrections.epochs }
    public var minibatches: Int { settings.corrections.minibatches }

    public func prepare(_ batch: TrainingBatch, proximal: PolicyOutputs, target: PolicyOutputs?) -> PreparedBatch {
        GAEPreparation.prepare(batch, proximal: proximal, settings: settings)
    }

    public func evaluate(_ b: TrainingBatch, prepared p: PreparedBatch, current o: PolicyOutputs) -> TokenTerms {
        let logpMu = b.behaviourLogp.map(Double.init)
        let r = DecoupledPPO.compute(logpTheta: o.logpi, logpProx: p.logpProx, logpMu: logpMu, advantages: p.advantages,
                                     parameters: settings.corrections.decoupled)
        var stats = r.stats
        stats.approxKL = CorrectionStats.approxKL(logpi: o.logpi, logmu: logpMu)
        let v = GAEPreparation.valueTerms(o, p, settings: settings)
        return TokenTerms(policyLoss: r.losses, policyGradient: r.gradients, valueLoss: v.losses, valueGradient: v.gradients,
                          stats: stats, advantages: p.advantages, returns: p.returns)
    }
}
