#if canImport(Glibc)
import Glibc
#endif

/// PPO's clipped surrogate (with separate low/high clip and the dual clip), the clipped value
/// loss, GAE and advantage whitening, as specified in `shared/specs/algorithms.md` §2 (verl
/// `compute_policy_loss_vanilla`, `compute_value_loss`, `compute_gae_advantage_return`).
///
/// Pure functions over flat per-sample arrays (a `[T, B]` batch flattened time-major, index
/// `t * B + b`). Per-sample losses and per-sample derivatives are returned un-aggregated:
/// combine them with `LossAggregation.aggregate(_:gradients:mask:sequences:maxLength:)`.
/// Ratios are built in log space with the log-ratio clamped to ±20 before `exp`; outside the
/// clamp the ratio is constant, so its derivative is 0 there.
public enum PPO {
    public struct Parameters: Sendable, Equatable, Codable {
        /// Lower clip: the ratio is clipped below at `1 − epsLow`.
        public var epsLow: Double = 0.2
        /// Upper clip: above at `1 + epsHigh` (DAPO "clip-higher" uses e.g. 0.28).
        public var epsHigh: Double = 0.2
        /// Dual-clip constant `c > 1`, applied only where `A < 0`; `nil` turns it off. Default
        /// 3.0 (verl's `clip_ratio_c`, §2).
        public var dualClip: Double? = 3.0
        public init() {}
        public init(epsLow: Double = 0.2, epsHigh: Double = 0.2, dualClip: Double? = 3.0) {
            self.epsLow = epsLow
            self.epsHigh = epsHigh
            self.dualClip = dualClip
        }
    }

    public struct Result: Sendable {
        /// `r = exp(clamp(logp − logpOld, ±20))`.
        public var ratio: [Double]
        /// Per-sample loss `l_i` (0 where the mask is 0).
        public var losses: [Double]
        /// Per-sample `∂l_i/∂logp_i` (before aggregation; 0 where the mask is 0).
        public var gradients: [Double]
        /// Valid samples whose clipped branch was active (`l2 > l1`).
        public var clippedCount: Int
        /// Valid samples where the dual clip bound (`A < 0` and `max(l1, l2) > −A c`).
        public var dualClippedCount: Int
        /// Fractions of the two counts, ESS of `ratio`, mean |logp − logpOld|.
        public var stats: CorrectionStats
    }

    /// Clipped surrogate (§2), per sample:
    /// `r = exp(clamp(logp − logpOld, ±20))`, `l1 = −A r`, `l2 = −A clip(r, 1 − epsLow, 1 + epsHigh)`,
    /// `l = max(l1, l2)`, and where `A < 0` with the dual clip: `l = min(l, −A c)`.
    ///
    /// Gradient rule (§2): `∂l/∂logp = −A r` when the unclipped branch is active (`l1 ≥ l2`, which
    /// includes the in-range tie), else 0; and 0 when the dual clip binds (`max(l1, l2) > −A c`;
    /// at equality the surrogate's gradient is kept). Also 0 where the log-ratio is clamped.
    ///
    /// - Parameters:
    ///   - logp: log π_θ(a_i), the policy being optimised.
    ///   - logpOld: the log-probabilities the trust region is centred on (`logp_mu`, a
    ///     recomputed proximal policy, or a target network — §2 "What is logp_old").
    ///   - advantages: A_i (constants).
    ///   - mask: per-sample validity (`nil` = all valid); masked samples get loss and gradient 0
    ///     and are left out of the counts.
    public static func compute(logp: [Double], logpOld: [Double], advantages: [Double], mask: [Double]? = nil,
                               parameters p: Parameters = Parameters()) -> Result {
        let n = logp.count
        precondition(logpOld.count == n && advantages.count == n)
        Masking.check(mask, n)
        if let c = p.dualClip { precondition(c > 1, "dual-clip constant must be > 1") }
        var ratio = [Double](repeating: 0, count: n)
        var losses = [Double](repeating: 0, count: n)
        var gradients = [Double](repeating: 0, count: n)
        var valid = 0, clipped = 0, dual = 0
        for i in 0..<n {
            let lr = logp[i] - logpOld[i]
            ratio[i] = LogRatio.ratio(lr)
            guard Masking.valid(mask, i) else { continue }
            valid += 1
            let a = advantages[i]
            var (loss, gradient, wasClipped) = clippedSurrogate(ratio: ratio[i], logRatio: lr, advantage: a,
                                                                epsLow: p.epsLow, epsHigh: p.epsHigh)
            if wasClipped { clipped += 1 }
            if let c = p.dualClip, a < 0, loss > -a * c {
                loss = -a * c
                gradient = 0
                dual += 1
            }
            losses[i] = loss
            gradients[i] = gradient
        }
        var stats = CorrectionStats.behaviour(logpi: logp, logmu: logpOld, mask: mask)
        stats.clippedFraction = Masking.fraction(clipped, of: valid)
        stats.dualClippedFraction = Masking.fraction(dual, of: valid)
        return Result(ratio: ratio, losses: losses, gradients: gradients, clippedCount: clipped,
                      dualClippedCount: dual, stats: stats)
    }

    /// One sample of the clipped surrogate: `l = max(−A r, −A clip(r, 1 − εlow, 1 + εhigh))`,
    /// its derivative in log π (`−A r` when the unclipped branch is active, ties included, else
    /// 0; 0 where the log-ratio is clamped), and whether the clipped branch was strictly larger.
    /// Shared by PPO and AReaL's decoupled loss, which differ only around it.
    static func clippedSurrogate(ratio r: Double, logRatio lr: Double, advantage a: Double,
                                 epsLow: Double, epsHigh: Double) -> (loss: Double, gradient: Double, clipped: Bool) {
        let l1 = -a * r
        let l2 = -a * min(1 + epsHigh, max(1 - epsLow, r))
        return (max(l1, l2), l1 >= l2 ? -a * LogRatio.ratioDerivative(lr) : 0, l2 > l1)
    }

    public struct ValueLossResult: Sendable {
        /// `V_old + clip(V − V_old, −eps_v, eps_v)` (equal to V when unclipped).
        public var clippedValues: [Double]
        /// Per-sample `½ max((V − R)², (V_clip − R)²)` (0 where the mask is 0).
        public var losses: [Double]
        /// Per-sample `∂l_i/∂V_i` (0 where the mask is 0).
        public var gradients: [Double]
        /// Fraction of valid samples where the clipped term won (`(V_clip − R)² > (V − R)²`),
        /// verl's `vf_clipfrac`.
        public var clippedFraction: Double
    }

    /// Clipped value loss (§2, verl `compute_value_loss`), per sample:
    /// `V_clip = V_old + clip(V − V_old, −eps_v, eps_v)`, `l = ½ max((V − R)², (V_clip − R)²)`;
    /// the spec's `L_V = ½ agg(max(…))` is then `agg(l)`. `epsV = nil` gives the plain `½ (V − R)²`.
    ///
    /// Gradient: `∂l/∂V = V − R` when the unclipped term is active (`(V − R)² ≥ (V_clip − R)²`,
    /// ties included), else 0 — the clipped term only wins when `|V − V_old| > eps_v`, where
    /// `V_clip` does not depend on V.
    /// Example (eps_v 0.2): V_old (0.5, 1), V (0.9, 0.7), R (1, 0) → V_clip (0.7, 0.8), token-mean 0.1825.
    public static func valueLoss(values: [Double], oldValues: [Double], returns: [Double], epsV: Double?,
                                 mask: [Double]? = nil) -> ValueLossResult {
        let n = values.count
        precondition(oldValues.count == n && returns.count == n)
        Masking.check(mask, n)
        if let epsV { precondition(epsV >= 0) }
        var clippedValues = values
        var losses = [Double](repeating: 0, count: n)
        var gradients = [Double](repeating: 0, count: n)
        var valid = 0, clipped = 0
        for i in 0..<n {
            if let e = epsV { clippedValues[i] = oldValues[i] + min(e, max(-e, values[i] - oldValues[i])) }
            guard Masking.valid(mask, i) else { continue }
            valid += 1
            let unclipped = (values[i] - returns[i]) * (values[i] - returns[i])
            let clippedTerm = (clippedValues[i] - returns[i]) * (clippedValues[i] - returns[i])
            losses[i] = 0.5 * max(unclipped, clippedTerm)
            if unclipped >= clippedTerm {
                gradients[i] = values[i] - returns[i]
            } else {
                clipped += 1
            }
        }
        return ValueLossResult(clippedValues: clippedValues, losses: losses, gradients: gradients,
                               clippedFraction: Masking.fraction(clipped, of: valid))
    }

    public struct GAEResult: Sendable {
        /// A_t, [T, B] (not whitened; see `whiten(_:mask:)`).
        public var advantages: [Double]
        /// R_t = A_t + V_t, [T, B] (value targets).
        public var returns: [Double]
    }

    /// Generalised advantage estimation (§2, verl `compute_gae_advantage_return`) over a `[T, B]`
    /// time-major batch, each column backwards:
    /// `δ_t = r_t + γ n_t V_{t+1} − V_t`, `A_t = δ_t + γ λ n_t A_{t+1}`, `R_t = A_t + V_t`,
    /// with `V_T = bootstrap[b]` and `A_T = 0`, and `n_t = 0` at a flagged step, else 1.
    ///
    /// - The end of the unroll is not an episode end: without a flag at `t = T − 1` the last step
    ///   bootstraps from `V(x_T)` (`n = 1`).
    /// - `terminated_t` cuts both the bootstrap and the trace (`n_t = 0`).
    /// - `truncated_t` (a time limit at step t, anywhere in the unroll, including `T − 1`) also
    ///   sets `n_t = 0`, because `x_{t+1}` is already the reset observation. **The caller must
    ///   fold the bootstrap into the reward first**, as in §1: `r_t ← r_t + γ V(final_obs_t)`
    ///   (only when not also terminated). This function does not see the final observations.
    ///
    /// Example (γ 0.99, λ 0.95): r (1, 1, 1), V (0.5, 0.6, 0.7), terminated at t = 2 →
    /// A (2.387329, 1.37515, 0.3); no flag, bootstrap 0.8 → A (3.087884, 2.120026, 1.092).
    public static func gae(timeSteps t: Int, batch b: Int, rewards: [Double], values: [Double], bootstrap: [Double],
                           gamma: Double = 0.99, lambda: Double = 0.95, terminated: [Bool],
                           truncated: [Bool]? = nil) -> GAEResult {
        let n = t * b
        precondition(t >= 0 && b >= 0)
        precondition(rewards.count == n && values.count == n && terminated.count == n && bootstrap.count == b)
        if let truncated { precondition(truncated.count == n) }
        var advantages = [Double](repeating: 0, count: n)
        var returns = [Double](repeating: 0, count: n)
        for col in 0..<b {
            var nextValue = bootstrap[col]
            var nextAdvantage = 0.0
            for s in stride(from: t - 1, through: 0, by: -1) {
                let i = s * b + col
                let cut = terminated[i] || (truncated?[i] ?? false)
                let nonterminal = cut ? 0.0 : 1.0
                let delta = rewards[i] + gamma * nonterminal * nextValue - values[i]
                nextAdvantage = delta + gamma * lambda * nonterminal * nextAdvantage
                advantages[i] = nextAdvantage
                returns[i] = nextAdvantage + values[i]
                nextValue = values[i]
            }
        }
        return GAEResult(advantages: advantages, returns: returns)
    }

    /// Advantage whitening over the batch (§2 "standard"; verl `masked_whiten`):
    /// `(x − mean) / sqrt(var + 1e-8)` with the masked mean and the unbiased (n − 1) masked
    /// variance (population variance when only one sample is valid). Masked samples → 0.
    /// `shiftMean: false` adds the mean back (verl's `shift_mean=False`).
    public static func whiten(_ x: [Double], mask: [Double]? = nil, shiftMean: Bool = true) -> [Double] {
        Masking.check(mask, x.count)
        var count = 0.0, sum = 0.0
        for i in x.indices where Masking.valid(mask, i) {
            count += 1
            sum += x[i]
        }
        guard count > 0 else { return [Double](repeating: 0, count: x.count) }
        let mean = sum / count
        var squares = 0.0
        for i in x.indices where Masking.valid(mask, i) { squares += (x[i] - mean) * (x[i] - mean) }
        let variance = squares / (count > 1 ? count - 1 : count)
        let scale = 1 / (variance + 1e-8).squareRoot()
        return x.indices.map { i in
            guard Masking.valid(mask, i) else { return 0 }
            return (x[i] - mean) * scale + (shiftMean ? 0 : mean)
        }
    }
}
