import Corrections
import Foundation
import Testing

/// shared/specs/algorithms.md §11: pi_theta 0.5, pi_ref 0.25.
@Suite struct KLTests {
    func run(_ e: KL.Estimator, _ theta: [Double], _ ref: [Double], mask: [Double]? = nil) -> KL.Result {
        KL.compute(logpTheta: theta, logpRef: ref, mask: mask, parameters: KL.Parameters(estimator: e))
    }

    @Test func specExample() {
        let theta = [log(0.5)], ref = [log(0.25)]
        expectNear(run(.k1, theta, ref).values, [0.693147], "k1")
        expectNear(run(.k2, theta, ref).values, [0.240227], "k2")
        expectNear(run(.k3, theta, ref).values, [0.193147], "k3")
        expectNear(run(.abs, theta, ref).values, [0.693147], "abs")
        // ∂/∂logp_theta with x = log(ref/theta) = −log 2: 1, −x, 1 − e^x, sign(−x).
        expectNear(run(.k1, theta, ref).gradients, [1], "∂k1")
        expectNear(run(.k2, theta, ref).gradients, [log(2)], "∂k2")
        expectNear(run(.k3, theta, ref).gradients, [0.5], "∂k3")
        expectNear(run(.abs, theta, ref).gradients, [1], "∂abs")
    }

    @Test func finiteDifferences() {
        var rng = TestRandom(seed: 7)
        let ref = (0..<24).map { _ in Double.random(in: -4...(-0.1), using: &rng) }
        // |x| between 0.05 and 2.5: away from abs's kink at 0 and k3's clamp (k3 = 10 at x ≈ 2.61).
        let theta = ref.map { $0 + (Bool.random(using: &rng) ? 1 : -1) * Double.random(in: 0.05...2.5, using: &rng) }
        for e in KL.Estimator.allCases {
            let r = run(e, theta, ref)
            expectGradient(r.gradients, of: { run(e, $0, ref).values.reduce(0, +) }, at: theta, e.rawValue)
        }
        // k2 and k3 are non-negative for every sample.
        #expect(run(.k2, theta, ref).values.allSatisfy { $0 >= 0 } && run(.k3, theta, ref).values.allSatisfy { $0 >= 0 })
    }

    /// verl's clamps: log_r to ±20 before exp and k3 to [−10, 10]; both hold the value, so the
    /// gradient there is 0. k1/k2/abs have no exp and are not clamped (as in verl).
    @Test func hugeLogRatiosClamp() {
        let theta = [0.0, 0, -12, 0]
        let ref = [-30.0, 30, 0, 0]
        let k3 = run(.k3, theta, ref)
        #expect(k3.values.allSatisfy { $0.isFinite })
        expectNear(k3.values, [10, 10, 10, 0], "k3 clamped to 10; 0 at equality")
        #expect(k3.gradients == [0, 0, 0, 0])
        expectGradient(k3.gradients, of: { run(.k3, $0, ref).values.reduce(0, +) }, at: theta, "k3 clamped")
        expectNear(run(.k1, theta, ref).values, [30, -30, -12, 0], "k1 unclamped")
        expectNear(run(.abs, theta, ref).gradients, [1, -1, -1, 0], "abs subgradient 0 at 0")
    }

    @Test func emptyAndMasked() {
        for e in KL.Estimator.allCases {
            let r = run(e, [], [])
            #expect(r.values.isEmpty && r.gradients.isEmpty)
            let m = run(e, [log(0.5), .nan], [log(0.25), 0], mask: [1, 0])
            #expect(m.values[1] == 0 && m.gradients[1] == 0 && m.values[0] > 0)
        }
    }
}
