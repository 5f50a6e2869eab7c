import Corrections
import Foundation
import Testing

/// shared/specs/algorithms.md §2 "APPO" has no worked example; this one is computed by hand
/// (clip 0.4 → [0.6, 1.4], target clip 2.0):
///
/// | i | mu  | target | theta | A    | is = mu/target     | ratio = is·theta/mu | min(A r, A clip r)        | loss | ∂/∂logp_theta     |
/// |---|-----|--------|-------|------|--------------------|---------------------|---------------------------|------|-------------------|
/// | 1 | 0.5 | 0.4    | 0.6   | 1    | 1.25               | 1.25·1.2 = 1.5      | min(1.5, 1.4) = 1.4       | −1.4 | 0 (clipped)       |
/// | 2 | 0.3 | 0.1    | 0.15  | −2   | 3 → 2 (truncated)  | 2·0.5 = 1.0         | min(−2, −2) = −2 (tie)    | 2.0  | −A r = 2.0        |
/// | 3 | 0.4 | 0.5    | 0.2   | −1   | 0.8                | 0.8·0.5 = 0.4       | min(−0.4, −0.6) = −0.6    | 0.6  | 0 (clipped)       |
/// | 4 | 0.2 | 0.25   | 0.3   | 0.5  | 0.8                | 0.8·1.5 = 1.2       | min(0.6, 0.6) = 0.6 (tie) | −0.6 | −A r = −0.6       |
/// | 5 | 0.5 | 0.5    | 0.9   | −1   | 1                  | 1.8                 | min(−1.8, −1.4) = −1.8    | 1.8  | −A r = 1.8        |
///
/// Mean loss (RLlib) = (−1.4 + 2 + 0.6 − 0.6 + 1.8) / 5 = 0.48; clip fraction 2/5; `is`
/// truncated 1/5.
@Suite struct APPOTests {
    let logpMu = [0.5, 0.3, 0.4, 0.2, 0.5].map { log($0) }
    let logpTarget = [0.4, 0.1, 0.5, 0.25, 0.5].map { log($0) }
    let logpTheta = [0.6, 0.15, 0.2, 0.3, 0.9].map { log($0) }
    let advantages = [1.0, -2, -1, 0.5, -1]

    func run(_ theta: [Double], _ p: APPO.Parameters = APPO.Parameters()) -> APPO.Result {
        APPO.compute(logpTheta: theta, logpMu: logpMu, logpTarget: logpTarget, advantages: advantages, parameters: p)
    }

    @Test func handComputedExample() {
        let r = run(logpTheta)
        expectNear(r.isWeights, [1.25, 2, 0.8, 0.8, 1], "is")
        expectNear(r.ratio, [1.5, 1, 0.4, 1.2, 1.8], "ratio")
        expectNear(r.losses, [-1.4, 2, 0.6, -0.6, 1.8], "loss")
        expectNear(LossAggregation.tokenMean.aggregate(r.losses, mask: [1, 1, 1, 1, 1]), 0.48, "mean loss")
        expectNear(r.gradients, [0, 2, 0, -0.6, 1.8], "∂l/∂logp_theta")
        expectNear(r.stats.clippedFraction, 0.4, "clip fraction")
        expectNear(r.stats.truncatedFraction, 0.2, "is truncated")
        expectGradient(r.gradients, of: { run($0).losses.reduce(0, +) }, at: logpTheta, "APPO")
    }

    /// Without the target correction (target = mu) APPO is PPO's clip (no dual clip) with eps 0.4
    /// centred on mu.
    @Test func reducesToPPOWhenTargetIsBehaviour() {
        var rng = TestRandom(seed: 3)
        let mu = (0..<32).map { _ in Double.random(in: -3...0, using: &rng) }
        let theta = mu.map { $0 + Double.random(in: -1...1, using: &rng) }
        let a = (0..<32).map { _ in Double.random(in: -2...2, using: &rng) }
        let appo = APPO.compute(logpTheta: theta, logpMu: mu, logpTarget: mu, advantages: a)
        let ppo = PPO.compute(logp: theta, logpOld: mu, advantages: a,
                              parameters: PPO.Parameters(epsLow: 0.4, epsHigh: 0.4, dualClip: nil))
        expectNear(appo.losses, ppo.losses, "losses", tolerance: 1e-12)
        expectNear(appo.gradients, ppo.gradients, "gradients", tolerance: 1e-12)
        expectGradient(appo.gradients, of: {
            APPO.compute(logpTheta: $0, logpMu: mu, logpTarget: mu, advantages: a).losses.reduce(0, +)
        }, at: theta, "APPO random")
    }

    @Test func edgeCases() {
        let empty = APPO.compute(logpTheta: [], logpMu: [], logpTarget: [], advantages: [])
        #expect(empty.losses.isEmpty && empty.stats == CorrectionStats())
        // logp_mu − logp_target = 500 clamps to 20, then is = 2; theta − mu = −500 clamps to −20.
        let huge = APPO.compute(logpTheta: [-500, 500], logpMu: [0, 0], logpTarget: [-500, 0], advantages: [1, -1])
        #expect(huge.isWeights == [2, 1] && huge.ratio.allSatisfy { $0.isFinite })
        expectNear(huge.ratio[0], 2 * exp(-20), "clamped ratio", tolerance: 1e-15)
        expectNear(huge.losses, [-2 * exp(-20), exp(20)], "losses (both unclipped)", tolerance: 1e-3)
        #expect(huge.gradients == [0, 0])
    }
}
