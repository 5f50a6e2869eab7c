#if canImport(Glibc)
import Glibc
#endif

/// APPO's surrogate policy loss (`shared/specs/algorithms.md` §2 "APPO"; RLlib's APPO torch
/// loss): the trust region is centred on a target network, and the behaviour-to-target
/// mismatch is corrected by a clipped importance weight. Advantages are V-trace's (§1,
/// `VTrace.Result.pgAdvantages`) and the value target is V-trace's `v_t`.
///
/// Pure function over flat per-sample arrays; log-ratios clamped to ±20 before `exp`.
public enum APPO {
    public struct Parameters: Sendable, Equatable, Codable {
        /// Surrogate clip: `clip(ratio, 1 − clip, 1 + clip)`. RLlib `clip_param`, 0.4.
        public var clip: Double = 0.4
        /// Upper bound of the behaviour→target weight. RLlib `target_worker_clipping`, 2.0.
        public var targetClip: Double = 2
        public init() {}
        public init(clip: Double = 0.4, targetClip: Double = 2) {
            self.clip = clip
            self.targetClip = targetClip
        }
    }

    public struct Result: Sendable {
        /// `is = clamp(exp(logp_mu − logp_target), 0, targetClip)` (stop-gradient).
        public var isWeights: [Double]
        /// `ratio = is · exp(logp_theta − logp_mu)`.
        public var ratio: [Double]
        /// Per-sample loss `−min(A ratio, A clip(ratio, 1 − ε, 1 + ε))` (0 where the mask is 0).
        public var losses: [Double]
        /// Per-sample `∂l_i/∂logp_theta_i` (0 where the mask is 0).
        public var gradients: [Double]
        /// `clippedFraction` (clipped branch strictly smaller), `truncatedFraction` (`is` hit
        /// `targetClip`), ESS of `ratio`, mean |logp_theta − logp_mu|.
        public var stats: CorrectionStats
    }

    /// APPO surrogate (§2), per sample:
    /// `is = clamp(exp(clamp(logp_mu − logp_target, ±20)), 0, targetClip)`,
    /// `ratio = is · exp(clamp(logp_theta − logp_mu, ±20))`,
    /// `l = −min(A ratio, A clip(ratio, 1 − ε, 1 + ε))`.
    /// RLlib averages `l` over the batch: `LossAggregation.tokenMean`.
    ///
    /// Gradient (`is` is a constant): `∂l/∂logp_theta = −A ratio` when the unclipped branch is
    /// active (`A ratio ≤ A clip(ratio)`, ties included), else 0; 0 where the log-ratio is clamped.
    public static func compute(logpTheta: [Double], logpMu: [Double], logpTarget: [Double], advantages: [Double],
                               mask: [Double]? = nil, parameters p: Parameters = Parameters()) -> Result {
        let n = logpTheta.count
        precondition(logpMu.count == n && logpTarget.count == n && advantages.count == n)
        Masking.check(mask, n)
        precondition(p.clip >= 0 && p.targetClip > 0)
        var isWeights = [Double](repeating: 0, count: n)
        var ratio = [Double](repeating: 0, count: n)
        var losses = [Double](repeating: 0, count: n)
        var gradients = [Double](repeating: 0, count: n)
        var valid = 0, clipped = 0, truncated = 0
        for i in 0..<n {
            let rawIS = LogRatio.ratio(logpMu[i] - logpTarget[i])
            isWeights[i] = min(p.targetClip, max(0, rawIS))
            let lr = logpTheta[i] - logpMu[i]
            ratio[i] = isWeights[i] * LogRatio.ratio(lr)
            guard Masking.valid(mask, i) else { continue }
            valid += 1
            if rawIS > p.targetClip { truncated += 1 }
            let a = advantages[i]
            let s1 = a * ratio[i]
            let s2 = a * min(1 + p.clip, max(1 - p.clip, ratio[i]))
            losses[i] = -min(s1, s2)
            if s1 <= s2 {
                gradients[i] = -a * isWeights[i] * LogRatio.ratioDerivative(lr)
            } else {
                clipped += 1
            }
        }
        var stats = CorrectionStats.behaviour(logpi: logpTheta, logmu: logpMu, mask: mask)
        stats.effectiveSampleSize = CorrectionStats.effectiveSampleSize(ratio, mask: mask)
        stats.clippedFraction = Masking.fraction(clipped, of: valid)
        stats.truncatedFraction = Masking.fraction(truncated, of: valid)
        return Result(isWeights: isWeights, ratio: ratio, losses: losses, gradients: gradients, stats: stats)
    }
}
