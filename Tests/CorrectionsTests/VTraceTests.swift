import Corrections
import Foundation
import Testing

/// The worked examples of shared/specs/algorithms.md §1 (T = 3, γ = 0.9, all bars 1).
@Suite struct VTraceTests {
    let logmu = [0.5, 0.4, 0.6].map { log($0) }
    let logpi = [0.6, 0.2, 0.9].map { log($0) }
    let rewards = [1.0, 0, 1]
    let values = [0.5, 0.4, 0.3]

    func run(discounts: [Double], lambda: Double = 1, form: VTrace.AdvantageForm = .paper) -> VTrace.Result {
        var p = VTrace.Parameters()
        p.lambda = lambda
        p.advantageForm = form
        return VTrace.compute(timeSteps: 3, batch: 1, logpi: logpi, logmu: logmu, rewards: rewards,
                              discounts: discounts, values: values, bootstrap: [0.7], parameters: p)
    }

    func expectClose(_ got: [Double], _ want: [Double], _ what: String) {
        #expect(got.count == want.count)
        for (g, w) in zip(got, want) { #expect(abs(g - w) < 1e-6, "\(what): \(got) vs \(want)") }
    }

    @Test func terminalInsideTheUnroll() {
        let r = run(discounts: [0.9, 0.9, 0])
        expectClose(r.rho, [1.2, 0.5, 1.5], "rho")
        expectClose(r.delta, [0.86, -0.065, 0.7], "delta")
        expectClose(r.vs, [1.585, 0.65, 1.0], "vs")
        expectClose(r.pgAdvantages, [1.085, 0.25, 0.7], "A^pg")
        #expect(abs(r.truncatedFraction - 2.0 / 3) < 1e-12)
        // ESS of (1.2, 0.5, 1.5) = 3.2² / (3 · 3.94); mean |log ρ| = (log 1.2 + log 2 + log 1.5) / 3.
        #expect(r.stats.truncatedFraction == r.truncatedFraction)
        #expect(abs(r.stats.effectiveSampleSize - 0.866328) < 1e-6)
        #expect(abs(r.stats.meanAbsLogRatio - 0.426978) < 1e-6)
    }

    @Test func bootstrapAtTheEndOfTheUnroll() {
        let r = run(discounts: [0.9, 0.9, 0.9])
        expectClose(r.delta, [0.86, -0.065, 1.33], "delta")
        expectClose(r.vs, [1.84015, 0.9335, 1.63], "vs")
        expectClose(r.pgAdvantages, [1.34015, 0.5335, 1.33], "A^pg")
        let pgLoss = zip(r.pgAdvantages, logpi).reduce(0) { $0 - $1.0 * $1.1 }
        let baselineLoss = 0.5 * zip(r.vs, values).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        #expect(abs(pgLoss - 1.683348) < 1e-6)
        #expect(abs(baselineLoss - 1.924762) < 1e-6)
    }

    @Test func lambdaBelowOneInBothAdvantageForms() {
        let rlax = run(discounts: [0.9, 0.9, 0.9], lambda: 0.95, form: .rlax)
        expectClose(rlax.vs, [1.790557, 0.903575, 1.63], "vs")
        expectClose(rlax.pgAdvantages, [1.290557, 0.503575, 1.33], "rlax A^pg")
        let paper = run(discounts: [0.9, 0.9, 0.9], lambda: 0.95, form: .paper)
        expectClose(paper.pgAdvantages, [1.313217, 0.5335, 1.33], "paper A^pg")
    }

    /// Closed form v_s = V_s + Σ_{t≥s} γ^{t−s} (Π_{i=s}^{t−1} c_i) δ_t, on a batch of two
    /// columns laid out [T, B], with ratios far enough apart to be clamped at ±20.
    @Test func batchedColumnsMatchTheClosedForm() {
        let t = 5
        let b = 2
        var rng = SystemRandomNumberGenerator()
        let logpi = (0..<(t * b)).map { _ in Double.random(in: -3...0, using: &rng) }
        var logmu = (0..<(t * b)).map { _ in Double.random(in: -3...0, using: &rng) }
        logmu[3] = -40  // log-ratio 37+: clamped to 20
        let rewards = (0..<(t * b)).map { _ in Double.random(in: -1...1, using: &rng) }
        let values = (0..<(t * b)).map { _ in Double.random(in: -1...1, using: &rng) }
        let discounts = [Double](repeating: 0.9, count: t * b)
        let r = VTrace.compute(timeSteps: t, batch: b, logpi: logpi, logmu: logmu, rewards: rewards,
                               discounts: discounts, values: values, bootstrap: [0.3, -0.2])
        #expect(abs(r.rho[3] - exp(20)) < 1e-3 * exp(20))
        for col in 0..<b {
            for s in 0..<t {
                var sum = 0.0
                var weight = 1.0
                for u in s..<t {
                    sum += weight * r.delta[u * b + col]
                    weight *= 0.9 * min(1, r.rho[u * b + col])
                }
                #expect(abs(r.vs[s * b + col] - (values[s * b + col] + sum)) < 1e-9)
            }
        }
    }
}
