#if canImport(Glibc)
import Glibc
#endif

/// Sample-based KL-to-reference estimators k1/k2/k3/abs (`shared/specs/algorithms.md` §11;
/// verl `kl_penalty`), evaluated at the sampled tokens with `log_r = logp_ref − logp_theta`.
///
/// Use as a loss term `β_KL · agg(k)` (GRPO style, gradients below) or subtract `β_KL · k1`
/// from the token rewards (PPO-RLHF style, no gradient). Gradient facts for samples from
/// `pi_theta` (§11): E[∇k1] = 0, so k1 as a differentiable loss does nothing in expectation;
/// E[∇k2] = ∇KL(pi_theta ‖ pi_ref); E[∇k3] = ∇KL(pi_ref ‖ pi_theta). With stale samples these
/// need the IS weight `pi_theta / mu`.
public enum KL {
    public enum Estimator: String, CaseIterable, Sendable, Codable {
        /// `−log_r` (verl "kl"/"k1").
        case k1
        /// `½ log_r²` (verl "mse"/"k2").
        case k2
        /// `exp(log_r) − 1 − log_r` with `log_r` clamped to ±20 and the result to [−10, 10]
        /// (verl "low_var_kl"/"k3").
        case k3
        /// `|log_r|` (verl "abs").
        case abs
    }

    public struct Parameters: Sendable, Equatable, Codable {
        public var estimator: Estimator = .k3
        public init() {}
        public init(estimator: Estimator) { self.estimator = estimator }
    }

    public struct Result: Sendable {
        /// Per-sample estimate k_i (0 where the mask is 0).
        public var values: [Double]
        /// Per-sample `∂k_i/∂logp_theta_i` (0 where the mask is 0).
        public var gradients: [Double]
    }

    /// Per-sample KL estimates and their derivatives with respect to `logp_theta` (§11), with
    /// `x = logp_ref − logp_theta`:
    /// - k1 = `−x`, ∂ = 1
    /// - k2 = `½ x²`, ∂ = `−x`
    /// - k3 = `clamp(exp(x̂) − 1 − x̂, −10, 10)` with `x̂ = clamp(x, ±20)`; ∂ = `1 − exp(x)` inside both
    ///   clamps, 0 where either holds the value (as torch's clamp backward)
    /// - abs = `|x|`, ∂ = `sign(logp_theta − logp_ref)` (0 at 0)
    ///
    /// Only k3 is clamped, as in verl: the others have no `exp` and stay finite for finite input.
    /// Example: pi_theta 0.5, pi_ref 0.25 → k1 0.693147, k2 0.240227, k3 0.193147.
    public static func compute(logpTheta: [Double], logpRef: [Double], mask: [Double]? = nil,
                               parameters p: Parameters = Parameters()) -> Result {
        let n = logpTheta.count
        precondition(logpRef.count == n)
        Masking.check(mask, n)
        var values = [Double](repeating: 0, count: n)
        var gradients = [Double](repeating: 0, count: n)
        for i in 0..<n where Masking.valid(mask, i) {
            let x = logpRef[i] - logpTheta[i]
            switch p.estimator {
            case .k1:
                values[i] = -x
                gradients[i] = 1
            case .k2:
                values[i] = 0.5 * x * x
                gradients[i] = -x
            case .k3:
                let clamped = LogRatio.clamp(x)
                let k = exp(clamped) - 1 - clamped
                values[i] = min(10, max(-10, k))
                gradients[i] = Swift.abs(x) <= LogRatio.bound && Swift.abs(k) <= 10 ? 1 - exp(x) : 0
            case .abs:
                values[i] = Swift.abs(x)
                gradients[i] = x < 0 ? 1 : (x > 0 ? -1 : 0)
            }
        }
        return Result(values: values, gradients: gradients)
    }
}
