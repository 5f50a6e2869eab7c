import Corrections
import Foundation
import Testing

/// shared/specs/algorithms.md §4: mu (0.2, 0.5, 0.1, 0.4), prox (0.3, 0.5, 0.6, 0.4),
/// theta (0.33, 0.35, 0.6, 0.5), A (1, −1, 1, −0.5), eps 0.2, cap 5.
@Suite struct DecoupledPPOTests {
    let logpMu = [0.2, 0.5, 0.1, 0.4].map { log($0) }
    let logpProx = [0.3, 0.5, 0.6, 0.4].map { log($0) }
    let logpTheta = [0.33, 0.35, 0.6, 0.5].map { log($0) }
    let advantages = [1.0, -1, 1, -0.5]
    let parameters = DecoupledPPO.Parameters(epsLow: 0.2, epsHigh: 0.2, behaviourCap: 5)

    func run(_ theta: [Double], _ p: DecoupledPPO.Parameters? = nil, mask: [Double]? = nil) -> DecoupledPPO.Result {
        DecoupledPPO.compute(logpTheta: theta, logpProx: logpProx, logpMu: logpMu, advantages: advantages, mask: mask,
                             parameters: p ?? parameters)
    }

    @Test func specExample() {
        let r = run(logpTheta)
        expectNear(r.ratio, [1.1, 0.7, 1.0, 1.25], "r")
        expectNear(r.behaviourWeights, [1.5, 1, 0, 1], "b (6 filtered)")
        expectNear(r.clippedLosses, [-1.1, 0.8, -1.0, 0.625], "clipped per-token loss")
        expectNear(r.losses, [-1.65, 0.8, 0, 0.625], "weighted")
        expectNear(r.loss, -0.05625, "L (denominator 4)")
        // Per token; the spec's ∂L/∂logp_theta (−0.4125, 0, 0, 0.15625) is these / 4.
        expectNear(r.gradients, [-1.65, 0, 0, 0.625], "∂(b l)/∂logp_theta")
        expectNear(r.gradients.map { $0 / 4 }, [-0.4125, 0, 0, 0.15625], "∂L/∂logp_theta")
        expectNear(r.stats.maskedFraction, 0.25, "filtered fraction")
        expectNear(r.stats.clippedFraction, 0.25, "clipped fraction (token 2)")
        #expect(r.stats.dualClippedFraction == 0 && r.stats.samples == 4)
        // Mean |log(prox/mu)| = (log 1.5 + 0 + log 6 + 0) / 4.
        expectNear(r.stats.meanAbsLogRatio, (log(1.5) + log(6)) / 4, "mean |log b|")
        expectGradient(r.gradients.map { $0 / 4 }, of: { run($0).loss }, at: logpTheta, "decoupled loss")
    }

    /// Without the cap token 3 keeps b = 6; its r = 1 sits in range so its gradient is
    /// 6 · (−1 · 1) / 4 = −1.5.
    @Test func noFilter() {
        let r = run(logpTheta, DecoupledPPO.Parameters())
        expectNear(r.behaviourWeights, [1.5, 1, 6, 1], "b")
        expectNear(r.loss, (-1.65 + 0.8 - 6 + 0.625) / 4, "L")
        expectNear(r.gradients.map { $0 / 4 }, [-0.4125, 0, -1.5, 0.15625], "gradient")
        expectGradient(r.gradients.map { $0 / 4 }, of: { run($0, DecoupledPPO.Parameters()).loss }, at: logpTheta, "no filter")
        #expect(r.stats.maskedFraction == 0)
    }

    /// Dual clip c = 3: token 2 with r = 5 (A = −1) has l = 5 → 3 and no gradient.
    @Test func dualClip() {
        var theta = logpTheta
        theta[1] = log(2.5)  // prox 0.5 → r = 5
        let p = DecoupledPPO.Parameters(dualClip: 3, behaviourCap: 5)
        let r = run(theta, p)
        expectNear(r.clippedLosses[1], 3, "dual-clipped loss")
        expectNear(r.gradients[1], 0, "no gradient")
        expectNear(r.stats.dualClippedFraction, 0.25, "dual fraction")
        expectGradient(r.gradients.map { $0 / 4 }, of: { run($0, p).loss }, at: theta, "dual clip")
    }

    /// A masked token does not count in the denominator and its garbage does not leak.
    @Test func maskedToken() {
        let r = DecoupledPPO.compute(logpTheta: logpTheta + [.nan], logpProx: logpProx + [.nan], logpMu: logpMu + [0],
                                     advantages: advantages + [.infinity], mask: [1, 1, 1, 1, 0], parameters: parameters)
        expectNear(r.loss, -0.05625, "L over the 4 valid tokens")
        expectNear(r.gradients.map { $0 / 4 }, [-0.4125, 0, 0, 0.15625, 0], "gradient")
    }

    @Test func edgeCases() {
        let empty = DecoupledPPO.compute(logpTheta: [], logpProx: [], logpMu: [], advantages: [])
        #expect(empty.loss == 0 && empty.stats == CorrectionStats())
        // Huge log-ratios: r and b clamp to e^±20 (finite); b = e^20 > cap is filtered.
        let huge = DecoupledPPO.compute(logpTheta: [100, 0], logpProx: [0, 100], logpMu: [0, 0], advantages: [-1, 1],
                                        parameters: DecoupledPPO.Parameters(behaviourCap: 5))
        #expect(huge.ratio[0] == exp(20) && huge.loss.isFinite)
        expectNear(huge.loss, exp(20) / 2, "unclipped −A r with r clamped", tolerance: 1e-3)
        #expect(huge.gradients == [0, 0])
        expectNear(huge.stats.maskedFraction, 0.5, "b = e^20 filtered")
    }
}
