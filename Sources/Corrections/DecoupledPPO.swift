#if canImport(Glibc)
import Glibc
#endif

/// AReaL's decoupled PPO loss (`shared/specs/algorithms.md` §4; inclusionAI/AReaL
/// `ppo_actor_loss_fn`): the trust region is centred on the proximal policy `pi_prox` (the
/// learner's parameters at the start of the update, log-probs recomputed by a forward pass),
/// and the data's staleness only enters through the behaviour weight `b = pi_prox / mu`.
///
/// Pure function over flat per-token arrays; log-ratios clamped to ±20 before `exp` (AReaL
/// itself does not clamp; §0 asks for it everywhere).
public enum DecoupledPPO {
    public struct Parameters: Sendable, Equatable, Codable {
        /// Lower clip `1 − epsLow` (AReaL `eps_clip`, 0.2).
        public var epsLow: Double = 0.2
        /// Upper clip `1 + epsHigh` (AReaL `eps_clip_higher`, defaults to `eps_clip`).
        public var epsHigh: Double = 0.2
        /// Dual clip `c > 1` (AReaL `c_clip`): `l = min(l, c|A|)`. Default off.
        public var dualClip: Double? = nil
        /// Behaviour-weight filter (AReaL `behav_imp_weight_cap`, must be > 1): tokens with
        /// `b > cap` get weight 0. `nil` = no filter (AReaL's default; 5 in a published config).
        public var behaviourCap: Double? = nil
        public init() {}
        public init(epsLow: Double = 0.2, epsHigh: Double = 0.2, dualClip: Double? = nil, behaviourCap: Double? = nil) {
            self.epsLow = epsLow
            self.epsHigh = epsHigh
            self.dualClip = dualClip
            self.behaviourCap = behaviourCap
        }
    }

    public struct Result: Sendable {
        /// `r = exp(clamp(logp_theta − logp_prox, ±20))`.
        public var ratio: [Double]
        /// `b = exp(clamp(logp_prox − logp_mu, ±20))`, 0 where filtered or invalid (stop-gradient).
        public var behaviourWeights: [Double]
        /// The clipped per-token loss `l` before the behaviour weight (0 where invalid).
        public var clippedLosses: [Double]
        /// Per-token `b · l` (0 where invalid or filtered).
        public var losses: [Double]
        /// `L = Σ mask · b · l / count(mask)`: the token mean of `losses`.
        public var loss: Double
        /// Per-token `∂(b_i · l_i)/∂logp_theta_i`, like `PPO.Result.gradients`: the gradient of
        /// `L` is these divided by `count(mask)` (what a token-mean aggregation does).
        public var gradients: [Double]
        /// `clippedFraction` (`l2 > l1`), `dualClippedFraction`, `maskedFraction` (filtered by
        /// the cap), ESS of the applied behaviour weights, mean |logp_prox − logp_mu|.
        public var stats: CorrectionStats
    }

    /// Decoupled PPO loss (§4):
    /// - `r = exp(logp_theta − logp_prox)`; `l = max(−A r, −A clip(r, 1 − epsLow, 1 + epsHigh))`;
    ///   with the dual clip `l = min(l, c|A|)` (binds only where A < 0).
    /// - `b = exp(logp_prox − logp_mu)` (stop-gradient); `b ← 0` where `b > cap` (filtered, not clipped).
    /// - `L = Σ_t mask_t b_t l_t / count(mask)`: the denominator counts every valid token,
    ///   including those zeroed by the cap.
    /// - per token, `∂(b_t l_t)/∂logp_theta_t = b_t · (−A_t r_t)` when the unclipped branch is
    ///   active (`l1 ≥ l2`, ties included) and the dual clip does not bind (`l ≤ c|A|`), else 0;
    ///   `∂L/∂logp_theta_t` is that divided by `count(mask)`.
    ///
    /// Example: mu (0.2, 0.5, 0.1, 0.4), prox (0.3, 0.5, 0.6, 0.4), theta (0.33, 0.35, 0.6, 0.5),
    /// A (1, −1, 1, −0.5), eps 0.2, cap 5 → weighted (−1.65, 0.8, 0, 0.625), L = −0.05625,
    /// ∂L/∂logp_theta = (−0.4125, 0, 0, 0.15625), i.e. per token (−1.65, 0, 0, 0.625).
    public static func compute(logpTheta: [Double], logpProx: [Double], logpMu: [Double], advantages: [Double],
                               mask: [Double]? = nil, parameters p: Parameters = Parameters()) -> Result {
        let n = logpTheta.count
        precondition(logpProx.count == n && logpMu.count == n && advantages.count == n)
        Masking.check(mask, n)
        if let c = p.dualClip { precondition(c > 1, "dual-clip constant must be > 1") }
        if let cap = p.behaviourCap { precondition(cap > 1, "behaviour-weight cap must be > 1") }
        var ratio = [Double](repeating: 0, count: n)
        var weights = [Double](repeating: 0, count: n)
        var clippedLosses = [Double](repeating: 0, count: n)
        var losses = [Double](repeating: 0, count: n)
        var gradients = [Double](repeating: 0, count: n)
        var valid = 0, clipped = 0, dual = 0, filtered = 0
        for i in 0..<n {
            let lr = logpTheta[i] - logpProx[i]
            ratio[i] = LogRatio.ratio(lr)
            guard Masking.valid(mask, i) else { continue }
            valid += 1
            let a = advantages[i]
            var (loss, gradient, wasClipped) = PPO.clippedSurrogate(ratio: ratio[i], logRatio: lr, advantage: a,
                                                                    epsLow: p.epsLow, epsHigh: p.epsHigh)
            if wasClipped { clipped += 1 }
            if let c = p.dualClip, loss > c * abs(a) {
                loss = c * abs(a)
                gradient = 0
                dual += 1
            }
            clippedLosses[i] = loss
            let b = LogRatio.ratio(logpProx[i] - logpMu[i])
            if let cap = p.behaviourCap, b > cap {
                filtered += 1
                continue
            }
            weights[i] = b
            losses[i] = b * loss
            gradients[i] = b * gradient
        }
        let scale = valid == 0 ? 0 : 1 / Double(valid)
        var loss = 0.0
        for i in 0..<n where weights[i] != 0 { loss += losses[i] * scale }
        var stats = CorrectionStats.behaviour(logpi: logpProx, logmu: logpMu, mask: mask)
        stats.effectiveSampleSize = CorrectionStats.effectiveSampleSize(weights, mask: mask)
        stats.clippedFraction = Masking.fraction(clipped, of: valid)
        stats.dualClippedFraction = Masking.fraction(dual, of: valid)
        stats.maskedFraction = Masking.fraction(filtered, of: valid)
        return Result(ratio: ratio, behaviourWeights: weights, clippedLosses: clippedLosses, losses: losses,
                      loss: loss, gradients: gradients, stats: stats)
    }
}
