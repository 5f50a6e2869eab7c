import Corrections

/// How the PPO family prepares a batch: proximal log-probs and values from the parameters at
/// the start of the update, GAE(λ) advantages (whitened over the batch when asked) and returns.
enum GAEPreparation {
    static func prepare(_ b: TrainingBatch, proximal o: PolicyOutputs, settings: ObjectiveSettings) -> PreparedBatch {
        let (rewards, _) = b.valueTargetTerms(gamma: settings.gamma, rewardScale: settings.rewardScale, finalValues: o.finalValues)
        let k = settings.corrections
        let g = PPO.gae(timeSteps: b.timeSteps, batch: b.batch, rewards: rewards, values: o.values, bootstrap: o.bootstrapValues,
                        gamma: settings.gamma, lambda: k.gaeLambda, terminated: b.terminated, truncated: b.truncated)
        return PreparedBatch(logpProx: o.logpi, valuesProx: o.values,
                             advantages: k.normalizeAdvantages ? PPO.whiten(g.advantages) : g.advantages, returns: g.returns)
    }

    /// The PPO family's value loss against the prepared returns (clipped around the proximal
    /// values when `valueClip` is set).
    static func valueTerms(_ o: PolicyOutputs, _ p: PreparedBatch, settings: ObjectiveSettings) -> (losses: [Double], gradients: [Double]) {
        let v = PPO.valueLoss(values: o.values, oldValues: p.valuesProx, returns: p.returns, epsV: settings.corrections.valueClip)
        return (v.losses, v.gradients)
    }
}
