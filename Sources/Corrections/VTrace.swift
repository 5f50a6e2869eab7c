#if canImport(Glibc)
import Glibc
#endif

/// V-trace targets and policy-gradient advantages (Espeholt et al., IMPALA), as specified in
/// `shared/specs/algorithms.md` §1 and checked against its worked examples.
///
/// A pure function over one batch laid out time-major, `[T, B]` row-major (index `t * B + b`):
/// the same layout as a chunk's tensors. Computed in Double; ratios are built in log space and
/// the log-ratio is clamped to ±20 before `exp`.
public enum VTrace {
    /// How `A^pg` bootstraps when λ < 1 (identical at λ = 1).
    public enum AdvantageForm: String, Sendable, Codable, CaseIterable {
        /// IMPALA paper: `r_t + d_t v_{t+1}` with `v_T = V(x_T)`.
        case paper
        /// rlax: `r_t + d_t (λ v_{t+1} + (1 − λ) V(x_{t+1}))`; the last step uses `V(x_T)`.
        case rlax
    }

    public struct Parameters: Sendable, Equatable, Codable {
        public var rhoBar: Double = 1
        public var cBar: Double = 1
        public var pgRhoBar: Double = 1
        public var lambda: Double = 1
        public var advantageForm: AdvantageForm = .paper
        public init() {}
    }

    public struct Result: Sendable {
        /// Importance ratios π/μ, [T, B].
        public var rho: [Double]
        /// Temporal differences weighted by the truncated ratio, [T, B].
        public var delta: [Double]
        /// Value targets v_t, [T, B] (stop-gradient constants).
        public var vs: [Double]
        /// Policy-gradient advantages A^pg_t, [T, B] (stop-gradient constants).
        public var pgAdvantages: [Double]
        /// Fraction of steps whose ratio exceeded ρ̄ (and was truncated).
        public var truncatedFraction: Double
        /// `truncatedFraction` again, with the ESS of `rho` and mean |log π − log μ| (§13 telemetry).
        public var stats: CorrectionStats
    }

    /// - Parameters:
    ///   - logpi, logmu: log π_θ(a_t|x_t) and log μ(a_t|x_t), [T, B].
    ///   - rewards: r_t, [T, B].
    ///   - discounts: d_t = γ (1 − terminated_t), [T, B] (0 also for a truncation inside the
    ///     unroll, whose reward then carries γ V(final observation)).
    ///   - values: V(x_t), [T, B]; bootstrap: V(x_T), [B].
    public static func compute(
        timeSteps t: Int, batch b: Int, logpi: [Double], logmu: [Double], rewards: [Double],
        discounts: [Double], values: [Double], bootstrap: [Double], parameters p: Parameters = Parameters()
    ) -> Result {
        let n = t * b
        precondition([logpi.count, logmu.count, rewards.count, discounts.count, values.count].allSatisfy { $0 == n })
        precondition(bootstrap.count == b)
        var rho = [Double](repeating: 0, count: n)
        var delta = [Double](repeating: 0, count: n)
        var vs = [Double](repeating: 0, count: n)
        var pg = [Double](repeating: 0, count: n)
        var truncated = 0
        for i in 0..<n {
            rho[i] = exp(min(20, max(-20, logpi[i] - logmu[i])))
            if rho[i] > p.rhoBar { truncated += 1 }
        }
        for col in 0..<b {
            func next(_ s: Int, _ v: [Double]) -> Double { s + 1 < t ? v[(s + 1) * b + col] : bootstrap[col] }
            for s in 0..<t {
                let i = s * b + col
                delta[i] = min(p.rhoBar, rho[i]) * (rewards[i] + discounts[i] * next(s, values) - values[i])
            }
            var acc = 0.0
            for s in stride(from: t - 1, through: 0, by: -1) {
                let i = s * b + col
                acc = delta[i] + discounts[i] * p.lambda * min(p.cBar, rho[i]) * acc
                vs[i] = values[i] + acc
            }
            for s in 0..<t {
                let i = s * b + col
                let target: Double
                switch p.advantageForm {
                case .paper: target = next(s, vs)
                case .rlax: target = s + 1 < t ? p.lambda * vs[i + b] + (1 - p.lambda) * values[i + b] : bootstrap[col]
                }
                pg[i] = min(p.pgRhoBar, rho[i]) * (rewards[i] + discounts[i] * target - values[i])
            }
        }
        var stats = CorrectionStats.behaviour(logpi: logpi, logmu: logmu)
        stats.truncatedFraction = n == 0 ? 0 : Double(truncated) / Double(n)
        return Result(rho: rho, delta: delta, vs: vs, pgAdvantages: pg, truncatedFraction: stats.truncatedFraction, stats: stats)
    }
}
