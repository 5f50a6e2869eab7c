import Corrections

/// IMPALA's loss with V-trace targets (`../shared/specs/algorithms.md` §1): per sample
/// −A^pg log π(a) for the policy and ½ (v_s − V)² for the value, the targets computed from the
/// current parameters (no trust region, one step per batch). A truncation inside the unroll
/// bootstraps from the episode's final observation (r ← r + γ V(final), d = 0); a termination
/// cuts both bootstrap and trace.
public struct VTraceObjective: Objective {
    public var settings: ObjectiveSettings

    public init(settings: ObjectiveSettings = ObjectiveSettings()) {
        self.settings = settings
    }

    public var name: String { Correction.vtrace.name }
    public var preparesBatch: Bool { false }
    public var needsTargetRows: Bool { true }

    public func prepare(_ batch: TrainingBatch, proximal: PolicyOutputs, target: PolicyOutputs?) -> PreparedBatch { PreparedBatch() }

    public func evaluate(_ b: TrainingBatch, prepared: PreparedBatch, current o: PolicyOutputs) -> TokenTerms {
        let (rewards, discounts) = b.valueTargetTerms(gamma: settings.gamma, rewardScale: settings.rewardScale, finalValues: o.finalValues)
        let result = VTrace.compute(
            timeSteps: b.timeSteps, batch: b.batch, logpi: o.logpi, logmu: b.behaviourLogp.map(Double.init),
            rewards: rewards, discounts: discounts, values: o.values, bootstrap: o.bootstrapValues,
            parameters: settings.corrections.vtrace)
        let value = TokenTerms.squaredError(values: o.values, targets: result.vs)
        return TokenTerms(policyLoss: zip(result.pgAdvantages, o.logpi).map { -$0 * $1 }, policyGradient: result.pgAdvantages.map { -$0 },
                          valueLoss: value.losses, valueGradient: value.gradients, stats: result.stats,
                          advantages: result.pgAdvantages, returns: result.vs)
    }
}
