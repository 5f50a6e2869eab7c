import Corrections

/// APPO (RLlib): V-trace advantages and value targets from the proximal parameters, and a
/// surrogate clipped around a target network refreshed every `targetUpdateEvery` batches
/// (`../shared/specs/algorithms.md` §2, option (iii)).
public struct APPOObjective: Objective {
    public var settings: ObjectiveSettings

    public init(settings: ObjectiveSettings = ObjectiveSettings()) {
        self.settings = settings
    }

    public var name: String { Correction.appo.name }
    public var epochs: Int { settings.corrections.epochs }
    public var minibatches: Int { settings.corrections.minibatches }
    public var targetRefresh: Int? { max(1, settings.corrections.targetUpdateEvery) }

    public func prepare(_ b: TrainingBatch, proximal o: PolicyOutputs, target: PolicyOutputs?) -> PreparedBatch {
        let (rewards, discounts) = b.valueTargetTerms(gamma: settings.gamma, rewardScale: settings.rewardScale, finalValues: o.finalValues)
        let v = VTrace.compute(timeSteps: b.timeSteps, batch: b.batch, logpi: o.logpi, logmu: b.behaviourLogp.map(Double.init),
                               rewards: rewards, discounts: discounts, values: o.values, bootstrap: o.bootstrapValues,
                               parameters: settings.corrections.vtrace)
        return PreparedBatch(logpProx: o.logpi, valuesProx: o.values, advantages: v.pgAdvantages, returns: v.vs,
                             logpTarget: target?.logpi ?? [])
    }

    public func evaluate(_ b: TrainingBatch, prepared p: PreparedBatch, current o: PolicyOutputs) -> TokenTerms {
        let logpMu = b.behaviourLogp.map(Double.init)
        let r = APPO.compute(logpTheta: o.logpi, logpMu: logpMu, logpTarget: p.logpTarget.isEmpty ? logpMu : p.logpTarget,
                             advantages: p.advantages, parameters: settings.corrections.appo)
        var stats = r.stats
        stats.approxKL = CorrectionStats.approxKL(logpi: o.logpi, logmu: logpMu)
        let v = GAEPreparation.valueTerms(o, p, settings: settings)
        return TokenTerms(policyLoss: r.losses, policyGradient: r.gradients, valueLoss: v.losses, valueGradient: v.gradients,
                          stats: stats, advantages: p.advantages, returns: p.returns)
    }
}
