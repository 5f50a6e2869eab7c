import Corrections
import Foundation
import Testing

/// shared/specs/algorithms.md §2: clipped surrogate, dual clip, clipped value loss, GAE.
@Suite struct PPOTests {
    // Clip/dual-clip example: r = (1.5, 0.7, 4.0, 0.9), A = (2, −1, −1, 0.5), eps 0.2, c 3.
    let logp = [1.5, 0.7, 4.0, 0.9].map { log($0) }
    let logpOld = [0.0, 0, 0, 0]
    let advantages = [2.0, -1, -1, 0.5]

    func losses(_ x: [Double], _ old: [Double], _ a: [Double], _ p: PPO.Parameters = PPO.Parameters()) -> Double {
        PPO.compute(logp: x, logpOld: old, advantages: a, parameters: p).losses.reduce(0, +)
    }

    @Test func clipAndDualClipExample() {
        let r = PPO.compute(logp: logp, logpOld: logpOld, advantages: advantages,
                            parameters: PPO.Parameters(epsLow: 0.2, epsHigh: 0.2, dualClip: 3))
        expectNear(r.ratio, [1.5, 0.7, 4.0, 0.9], "ratio")
        expectNear(r.losses, [-2.4, 0.8, 3.0, -0.45], "per-token loss")
        // Per-sample ∂l/∂logp: tokens 1–2 clipped, token 3 dual-clipped, token 4 = −A r.
        expectNear(r.gradients, [0, 0, 0, -0.45], "∂l_i/∂logp_i")
        let ones = [Double](repeating: 1, count: 4)
        let (loss, gradient) = LossAggregation.tokenMean.aggregate(r.losses, gradients: r.gradients, mask: ones)
        expectNear(loss, 0.2375, "token-mean")
        expectNear(gradient, [0, 0, 0, -0.1125], "∂L/∂logp")
        #expect(r.clippedCount == 2 && r.dualClippedCount == 1)
        expectNear(r.stats.clippedFraction, 0.5, "clip fraction")
        expectNear(r.stats.dualClippedFraction, 0.25, "dual-clip fraction")
        #expect(r.stats.samples == 4)
        expectGradient(r.gradients, of: { losses($0, logpOld, advantages) }, at: logp, "PPO at the spec example")
    }

    /// Without the dual clip token 3 keeps its unclipped loss −A r = 4 and gradient 4.
    @Test func dualClipOff() {
        let r = PPO.compute(logp: logp, logpOld: logpOld, advantages: advantages,
                            parameters: PPO.Parameters(dualClip: nil))
        expectNear(r.losses, [-2.4, 0.8, 4.0, -0.45], "loss")
        expectNear(r.gradients, [0, 0, 4.0, -0.45], "gradient")
        #expect(r.dualClippedCount == 0)
    }

    /// Separate low/high clips: r = 1.25 with A = 1 is inside [0.8, 1.28] but clipped at 1.2.
    @Test func clipHigher() {
        let x = [log(1.25), log(0.75)]
        let a = [1.0, -1]
        let higher = PPO.compute(logp: x, logpOld: [0, 0], advantages: a, parameters: PPO.Parameters(epsLow: 0.2, epsHigh: 0.28))
        expectNear(higher.losses, [-1.25, 0.8], "eps_high 0.28")
        expectNear(higher.gradients, [-1.25, 0], "eps_high 0.28 gradient")
        let symmetric = PPO.compute(logp: x, logpOld: [0, 0], advantages: a, parameters: PPO.Parameters(epsLow: 0.3, epsHigh: 0.2))
        expectNear(symmetric.losses, [-1.2, 0.75], "eps_low 0.3")
        expectNear(symmetric.gradients, [0, 0.75], "eps_low 0.3 gradient")
    }

    /// In range l1 = l2 exactly: the unclipped branch's gradient −A r is kept (§2 tie rule).
    @Test func inRangeTieKeepsTheGradient() {
        let r = PPO.compute(logp: [-0.3, -0.3], logpOld: [-0.3, -0.3], advantages: [1.5, -2])
        expectNear(r.losses, [-1.5, 2], "loss at r = 1")
        expectNear(r.gradients, [-1.5, 2], "gradient at r = 1")
        #expect(r.clippedCount == 0)
    }

    /// Random points away from every kink: finite differences match.
    @Test func finiteDifferencesAtRandomPoints() {
        var rng = TestRandom(seed: 11)
        let p = PPO.Parameters(epsLow: 0.2, epsHigh: 0.28, dualClip: 3)
        var x: [Double] = [], old: [Double] = [], a: [Double] = []
        while x.count < 64 {
            let lr = Double.random(in: -2...2, using: &rng)
            let kinks = [log(0.8), log(1.28), log(3.0)]
            guard kinks.allSatisfy({ abs(lr - $0) > 1e-4 }) else { continue }
            let o = Double.random(in: -3...0, using: &rng)
            old.append(o)
            x.append(o + lr)
            a.append(Double.random(in: -2...2, using: &rng))
        }
        let r = PPO.compute(logp: x, logpOld: old, advantages: a, parameters: p)
        expectGradient(r.gradients, of: { losses($0, old, a, p) }, at: x, "PPO random")
        #expect(r.clippedCount > 0 && r.dualClippedCount > 0 && r.clippedCount + r.dualClippedCount < 64)
    }

    /// Log-ratios beyond ±20 are clamped: finite ratios and losses, zero gradient (the loss is
    /// constant there), matching finite differences.
    @Test func hugeLogRatiosClamp() {
        let x = [30.0, 30, -30, -30, 1000]
        let old = [0.0, 0, 0, 0, 0]
        let a = [-1.0, 1, -1, 1, -1]
        let p = PPO.Parameters(dualClip: nil)
        let r = PPO.compute(logp: x, logpOld: old, advantages: a, parameters: p)
        #expect(r.ratio.allSatisfy { $0.isFinite } && r.losses.allSatisfy { $0.isFinite })
        expectNear(r.ratio[0], exp(20), "clamped ratio", tolerance: 1e-6 * exp(20))
        expectNear(r.losses, [exp(20), -1.2, 0.8, -exp(-20), exp(20)], "losses", tolerance: 1e-3)
        expectNear(r.gradients, [0, 0, 0, 0, 0], "gradients")
        expectGradient(r.gradients, of: { losses($0, old, a, p) }, at: x, "PPO clamped")
        let dual = PPO.compute(logp: x, logpOld: old, advantages: a)
        expectNear(dual.losses[0], 3, "dual clip bounds the clamped loss")
    }

    @Test func emptyAndMaskedInputs() {
        let empty = PPO.compute(logp: [], logpOld: [], advantages: [])
        #expect(empty.losses.isEmpty && empty.stats == CorrectionStats())
        let masked = PPO.compute(logp: [0.1, .nan], logpOld: [0, 0], advantages: [1, .nan], mask: [1, 0])
        #expect(masked.losses[1] == 0 && masked.gradients[1] == 0)
        #expect(masked.losses[0].isFinite && masked.stats.samples == 1)
        #expect(masked.stats.effectiveSampleSize == 1 && !masked.stats.meanAbsLogRatio.isNaN)
        let allMasked = PPO.compute(logp: [0.1], logpOld: [0], advantages: [1], mask: [0])
        #expect(allMasked.stats.clippedFraction == 0 && allMasked.stats.effectiveSampleSize == 0)
    }

    // MARK: Value loss

    @Test func valueClipExample() {
        let r = PPO.valueLoss(values: [0.9, 0.7], oldValues: [0.5, 1.0], returns: [1.0, 0.0], epsV: 0.2)
        expectNear(r.clippedValues, [0.7, 0.8], "V_clip")
        expectNear(r.losses, [0.045, 0.32], "½ max")
        expectNear(LossAggregation.tokenMean.aggregate(r.losses, mask: [1, 1]), 0.1825, "L_V")
        expectNear(r.gradients, [0, 0], "both clipped: no gradient")
        expectNear(r.clippedFraction, 1, "vf clip fraction")
        let unclipped = PPO.valueLoss(values: [0.9, 0.7], oldValues: [0.5, 1.0], returns: [1.0, 0.0], epsV: nil)
        expectNear(unclipped.losses, [0.005, 0.245], "plain ½ (V − R)²")
        expectNear(unclipped.gradients, [-0.1, 0.7], "V − R")
    }

    /// One point in each smooth region: inside the clip range, outside with the clipped term
    /// winning (gradient 0), outside with the unclipped term winning.
    @Test func valueLossFiniteDifferences() {
        let v = [0.1, 0.5, 0.5, -0.5, -0.5]
        let old = [0.0, 0, 0, 0, 0]
        let ret = [1.0, 1, 0, -1, 0.3]
        let r = PPO.valueLoss(values: v, oldValues: old, returns: ret, epsV: 0.2)
        expectNear(r.gradients, [-0.9, 0, 0.5, 0, -0.8], "∂l/∂V")
        expectGradient(r.gradients, of: { PPO.valueLoss(values: $0, oldValues: old, returns: ret, epsV: 0.2).losses.reduce(0, +) },
                       at: v, "value loss")
        expectNear(r.clippedFraction, 0.4, "clipped fraction")
        #expect(PPO.valueLoss(values: [], oldValues: [], returns: [], epsV: 0.2).clippedFraction == 0)
    }

    // MARK: GAE

    let rewards = [1.0, 1, 1]
    let values = [0.5, 0.6, 0.7]

    @Test func gaeTerminated() {
        let r = PPO.gae(timeSteps: 3, batch: 1, rewards: rewards, values: values, bootstrap: [0.8], gamma: 0.99, lambda: 0.95,
                        terminated: [false, false, true])
        expectNear(r.advantages, [2.387329, 1.37515, 0.3], "A")
        expectNear(r.returns, [2.887329, 1.97515, 1.0], "R")
    }

    @Test func gaeBootstrapAtTheEndOfTheUnroll() {
        let r = PPO.gae(timeSteps: 3, batch: 1, rewards: rewards, values: values, bootstrap: [0.8], gamma: 0.99, lambda: 0.95,
                        terminated: [false, false, false], truncated: [false, false, false])
        expectNear(r.advantages, [3.087884, 2.120026, 1.092], "A")
        expectNear(r.returns, [3.587884, 2.720026, 1.792], "R")
    }

    /// A time limit at t = 1 inside the unroll: the caller folds r_1 ← r_1 + γ V(final) with
    /// V(final) = 0.9; the flag then cuts bootstrap and trace.
    /// By hand: δ_2 = 1 + 0.99·0.8 − 0.7 = 1.092 = A_2; A_1 = δ_1 = 1 + 0.99·0.9 − 0.6 = 1.291;
    /// δ_0 = 1 + 0.99·0.6 − 0.5 = 1.094, A_0 = 1.094 + 0.99·0.95·1.291 = 2.3081855.
    @Test func gaeTruncationInsideTheUnroll() {
        let folded = [1.0, 1 + 0.99 * 0.9, 1]
        let r = PPO.gae(timeSteps: 3, batch: 1, rewards: folded, values: values, bootstrap: [0.8], gamma: 0.99, lambda: 0.95,
                        terminated: [false, false, false], truncated: [false, true, false])
        expectNear(r.advantages, [2.3081855, 1.291, 1.092], "A")
        expectNear(r.returns, [2.8081855, 1.891, 1.792], "R")
        // A flag on the last step ignores the unroll's bootstrap (the caller folded it).
        let last = PPO.gae(timeSteps: 3, batch: 1, rewards: rewards, values: values, bootstrap: [123], gamma: 0.99,
                           lambda: 0.95, terminated: [false, false, false], truncated: [false, false, true])
        expectNear(last.advantages[2], 0.3, "A_2 = r − V")
    }

    /// Columns of a [T, B] time-major batch are independent and equal to single-column runs.
    @Test func gaeBatchedColumns() {
        let t = 4, b = 3
        var rng = TestRandom(seed: 5)
        let r = (0..<(t * b)).map { _ in Double.random(in: -1...1, using: &rng) }
        let v = (0..<(t * b)).map { _ in Double.random(in: -1...1, using: &rng) }
        let term = (0..<(t * b)).map { $0 == 4 }
        let boot = [0.3, -0.2, 0.9]
        let all = PPO.gae(timeSteps: t, batch: b, rewards: r, values: v, bootstrap: boot, terminated: term)
        for col in 0..<b {
            let idx = (0..<t).map { $0 * b + col }
            let one = PPO.gae(timeSteps: t, batch: 1, rewards: idx.map { r[$0] }, values: idx.map { v[$0] },
                              bootstrap: [boot[col]], terminated: idx.map { term[$0] })
            expectNear(idx.map { all.advantages[$0] }, one.advantages, "column \(col)", tolerance: 1e-12)
            expectNear(idx.map { all.returns[$0] }, one.returns, "returns \(col)", tolerance: 1e-12)
        }
        let empty = PPO.gae(timeSteps: 0, batch: 2, rewards: [], values: [], bootstrap: [1, 2], terminated: [])
        #expect(empty.advantages.isEmpty)
    }

    @Test func whitening() {
        let w = PPO.whiten([1, 2, 3, 100], mask: [1, 1, 1, 0])
        // mean 2, unbiased variance 1.
        expectNear(w, [-1, 0, 1, 0], "whitened", tolerance: 1e-7)
        expectNear(PPO.whiten([1, 2, 3], shiftMean: false), [1, 2, 3], "shift_mean false adds the mean back", tolerance: 1e-7)
        #expect(PPO.whiten([]) == [])
        #expect(PPO.whiten([5]) == [0])
        #expect(PPO.whiten([5, 6], mask: [0, 0]) == [0, 0])
    }
}
