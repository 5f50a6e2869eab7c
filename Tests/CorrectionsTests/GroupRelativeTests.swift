import Foundation
import Testing
@testable import Corrections

/// The group-relative family against the worked numbers of `shared/specs/algorithms.md`
/// §5–8, §11, §16, and by finite differences.
@Suite struct GroupAdvantageTests {
    let r = [1.0, 0, 0, 0]
    let one = [[0, 1, 2, 3]]

    @Test func grpoAndFriends() {
        expectNear(GroupAdvantage.compute(rewards: r, groups: one, parameters: .init(baseline: .grpo)),
                   [1.499997, -0.499999, -0.499999, -0.499999], "GRPO (unbiased std)")
        expectNear(GroupAdvantage.compute(rewards: r, groups: one, parameters: .init(baseline: .grpoPopulation)),
                   [1.732047, -0.577349, -0.577349, -0.577349], "GRPO (population std)")
        expectNear(GroupAdvantage.compute(rewards: r, groups: one, parameters: .init(baseline: .mean)),
                   [0.75, -0.25, -0.25, -0.25], "Dr.GRPO")
        expectNear(GroupAdvantage.compute(rewards: r, groups: one, parameters: .init(baseline: .rloo)),
                   [1, -1.0 / 3, -1.0 / 3, -1.0 / 3], "RLOO")
        expectNear(GroupAdvantage.compute(rewards: r, groups: one, parameters: .init(baseline: .mean, shift: -0.1)),
                   [0.85, -0.15, -0.15, -0.15], "AsymRE")
        expectNear(GroupAdvantage.compute(rewards: r, groups: one, parameters: .init(baseline: .logAvgExp, tau: 1)),
                   [0.642626, -0.357374, -0.357374, -0.357374], "OPMD logavgexp")
        expectNear(GroupAdvantage.logAvgExp(r, tau: 0.5), 0.477229, "logavgexp τ 0.5")
        for b in GroupAdvantage.Baseline.allCases where b != .logAvgExp {
            expectNear(GroupAdvantage.compute(rewards: [1, 1, 1, 1], groups: one, parameters: .init(baseline: b)), [0, 0, 0, 0],
                       "degenerate group, \(b)")
        }
        // Single-sample groups: mean 0, std 1 (verl and Trinity), so A = R.
        expectNear(GroupAdvantage.compute(rewards: [0.7], groups: [[0]], parameters: .init(baseline: .grpo)), [0.7 / (1 + 1e-6)], "single")
    }

    @Test func groupsAreIndependentAndInterleaved() {
        let rewards = [1.0, 5, 0, 5, 0, 6, 0, 6]
        let groups = [[0, 2, 4, 6], [1, 3, 5, 7]]
        let a = GroupAdvantage.compute(rewards: rewards, groups: groups, parameters: .init(baseline: .mean))
        expectNear(a, [0.75, -0.5, -0.25, -0.5, -0.25, 0.5, -0.25, 0.5], "interleaved groups")
    }

    @Test func redDropBalancesNegatives() {
        var rng = TestRandom(seed: 7)
        let (a, kept) = GroupAdvantage.redDrop(rewards: [1, 0, 0, 0], groups: [[0, 1, 2, 3]], using: &rng)
        // One positive, three negatives: two negatives dropped, the mean over (1, 0) is 0.5.
        #expect(kept.filter { !$0 }.count == 2 && kept[0])
        expectNear(a.sorted(), [-0.5, 0, 0, 0.5], "RED-Drop")
        // Positives outnumber negatives: nothing dropped.
        let (b, keptAll) = GroupAdvantage.redDrop(rewards: [1, 1, 1, 0], groups: [[0, 1, 2, 3]], using: &rng)
        #expect(keptAll.allSatisfy { $0 })
        expectNear(b, [0.25, 0.25, 0.25, -0.75], "RED-Drop, no drop")
    }

    @Test func bnpo() {
        // Four groups of four with success rates 0.25, 0.5, 0.5, 0.75.
        let rewards: [Double] = [1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0]
        let groups = (0..<4).map { g in (0..<4).map { g * 4 + $0 } }
        let (a, alpha, beta) = GroupAdvantage.bnpo(rewards: rewards, groups: groups)
        expectNear(alpha, 1.833333, "α")
        expectNear(beta, 1.833333, "β")
        expectNear(GroupAdvantage.betaPDF(0.25, alpha, beta), 1.123800, "pdf(0.25)", tolerance: 1e-5)
        expectNear(GroupAdvantage.betaPDF(0.5, alpha, beta), 1.428251, "pdf(0.5)", tolerance: 1e-5)
        expectNear([a[0], a[1]], [0.667379, -0.222460], "p = 0.25", tolerance: 1e-5)
        expectNear([a[4], a[6]], [0.350079, -0.350079], "p = 0.5", tolerance: 1e-5)
        // All groups at the same rate: v = 0, plain R − p.
        let flat = GroupAdvantage.bnpo(rewards: [1, 0, 1, 0], groups: [[0, 1], [2, 3]])
        expectNear(flat.advantages, [0.5, -0.5, 0.5, -0.5], "v = 0")
    }

    @Test func spoTracker() {
        var t = SPOTracker()
        t.seed("p", alpha: 2, beta: 6)
        expectNear(t.baseline("p"), 0.25, "p̂")
        expectNear(pow(2, -0.03 / 0.06), 0.707107, "raw ρ")
        expectNear(t.rho(distance: 0.03), 0.875, "ρ clamped low")
        expectNear(t.rho(distance: 0.001), 0.96, "ρ clamped high")
        t.update("p", reward: 1, distance: 0.03)
        let (a, b) = t.alphaBeta("p")
        expectNear([a, b], [2.75, 5.25], "α, β after the update")
        expectNear(t.baseline("p"), 0.34375, "new p̂")
        let initial = SPOTracker.initial(samples: 8, successes: 2)
        expectNear([initial.alpha, initial.beta], [2.222222, 5.777778], "initialisation")
        expectNear(SPOTracker.advantages(rewards: [1, 0, 1, 0], baselines: [0.25, 0.25, 0.8, 0.1]),
                   [1.358732, -0.905822, 0.113228, -0.566139], "batch-normalised")
        #expect(SPOTracker().baseline("never seen") == 0.5)
    }
}

@Suite struct RECTests {
    // §6's example: 5 tokens, token-mean.
    let ratio = [1.3, 0.7, 0.3, 3.5, 1.0]
    let adv = [1.0, -1, 1, -1, 0.5]
    let pi = [0.5, 0.2, 0.1, 0.4, 0.6]
    var logp: [Double] { pi.map { log($0) } }
    var logpOld: [Double] { zip(logp, ratio).map { $0 - log($1) } }

    func coefficients(_ p: REC.Parameters) -> [Double] {
        REC.compute(logp: logp, logpOld: logpOld, advantages: adv, parameters: p).gradients.map { $0 / 5 }
    }

    func loss(_ p: REC.Parameters, at x: [Double]? = nil) -> Double {
        REC.compute(logp: x ?? logp, logpOld: logpOld, advantages: adv, parameters: p).losses.reduce(0, +) / 5
    }

    @Test func masks() {
        let p = REC.Parameters()
        func keep(_ m: REC.ClipMode) -> [Bool] { (0..<5).map { REC.keep(m, ratio: ratio[$0], advantage: adv[$0], p) } }
        #expect(keep(.twoSide) == [false, false, false, false, true])
        #expect(keep(.oneSide) == [false, false, true, true, true])
        #expect(keep(.ring) == [false, false, true, true, true])
        #expect(keep(.none) == [true, true, true, true, true])
    }

    @Test func gradientCoefficients() {
        expectNear(coefficients(.init(clipMode: .none)), [-0.2, 0.2, -0.2, 0.2, -0.1], "none-NoIS")
        expectNear(coefficients(.init(clipMode: .none, weight: .importanceSampling)), [-0.26, 0.14, -0.06, 0.7, -0.1], "none-IS")
        expectNear(coefficients(.init(clipMode: .oneSide)), [0, 0, -0.2, 0.2, -0.1], "one-side-NoIS")
        expectNear(coefficients(.init(clipMode: .oneSide, weight: .importanceSampling)), [0, 0, -0.06, 0.7, -0.1], "one-side-IS")
    }

    @Test func lossesAndRegularisers() {
        expectNear(loss(.init(clipMode: .oneSide)), 0.328341, "REC-OneSide-NoIS loss")
        let opmd = REC.Parameters(clipMode: .none, regularizer: .k2, coefficient: 0.1)
        expectNear(loss(opmd), 0.209384, "OPMD loss")
        expectNear(coefficients(opmd), [-0.189505, 0.185733, -0.248159, 0.250111, -0.1], "OPMD coefficients")
        let asym = REC.Parameters(clipMode: .none, regularizer: .forwardKL, coefficient: 0.1)
        expectNear(loss(asym), 0.265729, "AsymRE loss")
        expectNear(coefficients(asym), [-0.22, 0.18, -0.22, 0.18, -0.12], "AsymRE coefficients")
        // AsymRE's two forms have the same gradient: forward-kl 0.1 == baseline shift −0.1.
        let shifted = REC.compute(logp: logp, logpOld: logpOld, advantages: adv.map { $0 + 0.1 }, parameters: .init(clipMode: .none))
        expectNear(shifted.gradients.map { $0 / 5 }, coefficients(asym), "shift == forward-kl")
    }

    @Test func finiteDifferences() {
        // The regularisers are differentiable in log π_θ (the ratio is detached): the analytic
        // gradient of the k2 and forward-kl terms against central differences, the policy term
        // with the ratio held fixed.
        for reg in [REC.Regularizer.k2, .forwardKL] {
            let p = REC.Parameters(clipMode: .none, regularizer: reg, coefficient: 0.3)
            let g = REC.compute(logp: logp, logpOld: logpOld, advantages: adv, parameters: p).gradients
            expectGradient(g, of: { x in REC.compute(logp: x, logpOld: logpOld, advantages: adv, parameters: p).losses.reduce(0, +) },
                           at: logp, "REC \(reg)")
        }
    }

    @Test func oneSideISEqualsPPOClipWithoutDualClip() {
        // §6's identity: REC-OneSide-IS has PPO-clip's per-token gradient (no dual clip).
        var rng = TestRandom(seed: 3)
        let n = 64
        let lp = (0..<n).map { _ in -Double.random(in: 0.05...3, using: &rng) }
        let lo = lp.map { $0 + Double.random(in: -0.6...0.6, using: &rng) }
        let a = (0..<n).map { _ in Double.random(in: -2...2, using: &rng) }
        let rec = REC.compute(logp: lp, logpOld: lo, advantages: a, parameters: .init(clipMode: .oneSide, weight: .importanceSampling))
        let ppo = PPO.compute(logp: lp, logpOld: lo, advantages: a, parameters: .init(epsLow: 0.2, epsHigh: 0.2, dualClip: nil))
        expectNear(rec.gradients, ppo.gradients, "REC-OneSide-IS vs PPO-clip", tolerance: 1e-9)
    }

    @Test func gspoOneSideUsesTheSequenceRatio() {
        // Two sequences of two tokens: sequence ratios exp(mean log r).
        let lp = [-1.0, -1, -1, -1]
        let lo = [-1.5, -0.5, -1.4, -1.4]  // seq 0: mean log r 0 → 1; seq 1: 0.4 → 1.49
        let seq = [0, 0, 1, 1]
        let r = REC.compute(logp: lp, logpOld: lo, advantages: [1, 1, 1, 1], sequences: seq,
                            parameters: .init(clipMode: .gspoOneSide))
        #expect(r.kept == [true, true, false, false])
        expectNear(r.stats.maskedFraction, 0.5, "masked")
    }

    @Test func redWeight() {
        let p = REC.Parameters(clipMode: .none, weight: .advantage)
        expectNear(REC.compute(logp: logp, logpOld: logpOld, advantages: adv, parameters: p).gradients,
                   adv.map { -$0 * exp($0) }, "A·exp(A)")
    }
}

@Suite struct FrontierLossTests {
    @Test func gspo() {
        // One sequence, log ratios (0.1, 0.3): s = exp(0.2) = 1.2214, above 1 + 4e-4.
        let lp = [-1.0, -2.0], lo = [-1.1, -2.3]
        let pos = GSPO.compute(logp: lp, logpOld: lo, advantages: [1, 1], sequences: [0, 0])
        expectNear(pos.losses, [-(1 + 4e-4), -(1 + 4e-4)], "clipped loss")
        expectNear(pos.gradients, [0, 0], "clipped: no gradient")
        expectNear(pos.stats.clippedFraction, 1, "clipped fraction")
        let neg = GSPO.compute(logp: lp, logpOld: lo, advantages: [-1, -1], sequences: [0, 0])
        expectNear(neg.gradients, [exp(0.2), exp(0.2)], "A < 0, s above the band: the unclipped branch, straight-through")
        // Straight-through: the sequence's token-mean of the token gradients (−A·s each, as
        // seq-mean-token-mean aggregates them) is the true gradient of the sequence loss −A·s.
        let wide = GSPO.Parameters(epsLow: 10, epsHigh: 10)
        let g = GSPO.compute(logp: lp, logpOld: lo, advantages: [1, 1], sequences: [0, 0], parameters: wide).gradients
        let sequenceLoss = { (x: [Double]) -> Double in -exp((x[0] - lo[0] + x[1] - lo[1]) / 2) }
        expectGradient(g.map { $0 / 2 }, of: sequenceLoss, at: lp, "GSPO straight-through")
    }

    @Test func cispo() {
        let lp = [log(0.5), log(0.5)], lo = [log(0.05), log(0.4)]  // r = 10, 1.25
        let c = CISPO.compute(logp: lp, logpOld: lo, advantages: [1, -1], parameters: .init(cap: 4))
        expectNear(c.gradients, [-4, 1.25], "capped weight, never dropped")
        expectNear(c.stats.truncatedFraction, 0.5, "capped fraction")
    }

    @Test func m2poMasksTheLargestSecondMoments() {
        // Squared log ratios 0.25, 0.01, 0.0, 0.0 → mean 0.065 ≥ 0.04: drop 0.25 → 0.0033.
        let lo = [0.0, 0, 0, 0], lp = [0.5, 0.1, 0, 0].map { $0 - 1 }
        let lob = lo.map { $0 - 1 }
        #expect(M2PO.keep(logp: lp, logpBehaviour: lob, threshold: 0.04) == [false, true, true, true])
        let m = M2PO.compute(logp: lp, logpBehaviour: lob, advantages: [1, 1, 1, 1])
        expectNear(m.stats.maskedFraction, 0.25, "masked")
        expectNear(m.gradients, [0, -exp(0.1), -1, -1], "kept: −A·r")
        // Already below τ: nothing masked.
        #expect(M2PO.keep(logp: [0.1, 0], logpBehaviour: [0, 0], threshold: 0.04) == [true, true])
        expectGradient(m.gradients, of: { x in M2PO.compute(logp: x, logpBehaviour: lob, advantages: [1, 1, 1, 1]).losses.reduce(0, +) },
                       at: lp, "M2PO kept tokens")
    }

    @Test func icePopBand() {
        let lp = [0.0, 0, 0], lb = [log(4.0), 0, -log(6.0)]  // r = 0.25, 1, 6
        let i = IcePop.compute(logp: lp, logpBehaviour: lb, advantages: [1, 1, 1])
        #expect(i.kept == [false, true, false])
        expectNear(i.gradients, [0, -1, 0], "band")
    }

    @Test func dppoBinaryTV() {
        // π 0.6, μ 0.3: π − μ = 0.3 > 0.2 with A > 0 → dropped, only the (log r)² term remains.
        let lp = [log(0.6), log(0.6)], lb = [log(0.3), log(0.3)]
        let d = DPPOBinaryTV.compute(logp: lp, logpBehaviour: lb, advantages: [1, -1])
        #expect(d.kept == [false, true])
        let lr = log(2.0)
        expectNear(d.losses, [1e-3 * lr * lr, 2 + 1e-3 * lr * lr], "losses")
        expectGradient(d.gradients, of: { x in
            // The keep decision is piecewise constant; hold it at the evaluation point.
            DPPOBinaryTV.compute(logp: x, logpBehaviour: lb, advantages: [1, -1]).losses.reduce(0, +)
        }, at: lp, "DPPO-TV")
    }

    @Test func a3poInterpolatesByVersions() {
        let prox = A3PO.proximalLogp(logpBehaviour: [-2, -2, -2], logpTheta: [-1, -1, -1], lags: [0, 1, 3])
        expectNear(prox, [-2, -1.5, -1.25], "α = s/(s+1)")
    }

    @Test func klToReference() {
        // §11: π_θ 0.5, π_ref 0.25.
        for (e, want) in [(KL.Estimator.k1, 0.693147), (.k2, 0.240227), (.k3, 0.193147)] {
            expectNear(KL.compute(logpTheta: [log(0.5)], logpRef: [log(0.25)], parameters: .init(estimator: e)).values, [want], "\(e)")
        }
    }
}
