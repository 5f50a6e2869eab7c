import Corrections

/// PPO-clip centred on the behaviour policy μ (`../shared/specs/algorithms.md` §2, option (i)):
/// the trust region limits the distance to a possibly stale policy. GAE(λ) advantages from the
/// proximal parameters; clip ε_low/ε_high and the dual clip.
public struct PPOObjective: Objective {
    public var settings: ObjectiveSettings

    public init(settings: ObjectiveSettings = ObjectiveSettings()) {
        self.settings = settings
    }

    public var name: String { Correction.ppo.name }
    public var epochs: Int { settings.corrections.epochs }
    public var minibatches: Int { settings.corrections.minibatches }

    public func prepare(_ batch: TrainingBatch, proximal: PolicyOutputs, target: PolicyOutputs?) -> PreparedBatch {
        GAEPreparation.prepare(batch, proximal: proximal, settings: settings)
    }

    public func evaluate(_ b: TrainingBatch, prepared p: PreparedBatch, current o: PolicyOutputs) -> TokenTerms {
        let logpMu = b.behaviourLogp.map(Double.init)
        let r = PPO.compute(logp: o.logpi, logpOld: logpMu, advantages: p.advantages, parameters: settings.corrections.ppo)
        var stats = r.stats
        stats.approxKL = CorrectionStats.approxKL(logpi: o.logpi, logmu: logpMu)
        let v = GAEPreparation.valueTerms(o, p, settings: settings)
        return TokenTerms(policyLoss: r.losses, policyGradient: r.gradients, valueLoss: v.losses, valueGradient: v.gradients,
                          stats: stats, advantages: p.advantages, returns: p.returns)
    }
}
