#if canImport(Glibc)
import Glibc
#endif

/// Truncated importance sampling for the mismatch between the policy the learner believes
/// produced the data (`pi_old`, recomputed by the trainer) and the true sampler `mu` (numerics,
/// quantisation, or an older policy version): `shared/specs/algorithms.md` §3 (verl
/// `rollout_corr_helper.compute_rollout_correction_weights` / rejection mask).
///
/// Pure functions over flat per-token arrays. The weights are stop-gradient constants: use them
/// as `L = agg(w_t · l_t)`, i.e. multiply both the per-sample losses and the per-sample
/// gradients of the policy loss by `w` before aggregating. Log-ratios (token, sequence sum,
/// geometric mean) are clamped to ±20 before `exp`.
public enum TruncatedIS {
    /// What one weight is computed from (§3), with `lr_t = logp_old_t − logp_mu_t`.
    public enum Level: String, CaseIterable, Sendable, Codable {
        /// `exp(lr_t)` per token.
        case token
        /// `exp(Σ_t lr_t)` over the sequence's valid tokens, broadcast to all its tokens.
        case sequence
        /// `exp(mean_t lr_t)` over the sequence's valid tokens, broadcast (verl uses this level
        /// for masking only; as a weight it is the length-normalised sequence ratio).
        case geometric
    }

    public struct Parameters: Sendable, Equatable, Codable {
        public var level: Level = .token
        /// Cap C: `w = min(ratio, C)`. Default 2.0 (verl `rollout_is_threshold`).
        public var cap: Double = 2
        /// Divide the capped weights by their batch mean (verl `rollout_is_batch_normalize`):
        /// the masked token mean at token level; at sequence/geometric level the mean over
        /// sequences (each once) of their weight.
        public var batchNormalize = false
        public init() {}
        public init(level: Level = .token, cap: Double = 2, batchNormalize: Bool = false) {
            self.level = level
            self.cap = cap
            self.batchNormalize = batchNormalize
        }
    }

    public struct Result: Sendable {
        /// Per-token weights (0 where the mask is 0), stop-gradient.
        public var weights: [Double]
        /// `truncatedFraction` (valid tokens whose ratio exceeded C), ESS of `weights`, mean
        /// |lr_t| (token log-ratio, whatever the level).
        public var stats: CorrectionStats
    }

    /// Truncated IS weights (§3): `w = min(exp(clamp(x, ±20)), C)` with `x = lr_t` (token),
    /// `Σ_{t∈seq} lr_t` (sequence) or `mean_{t∈seq} lr_t` (geometric), sums and means over the
    /// valid tokens; then optionally `w ← w / mean(w)`.
    /// Example: ratios (0.5, 1, 3), C = 2 → token (0.5, 1, 2), sequence 1.5, geometric 1.144714.
    ///
    /// - Parameters:
    ///   - logpOld: the trainer's log-probabilities of the sampled tokens (`old_log_prob`).
    ///   - logpMu: the sampler's (`rollout_log_prob`, the worker's `logp_mu`).
    ///   - mask: per-token validity (`nil` = all valid).
    ///   - sequences: index ranges of the sequences (disjoint, covering every index); `nil` =
    ///     one sequence. Only the sequence and geometric levels use them.
    public static func weights(logpOld: [Double], logpMu: [Double], mask: [Double]? = nil,
                               sequences: [Range<Int>]? = nil, parameters p: Parameters = Parameters()) -> Result {
        let n = logpOld.count
        precondition(logpMu.count == n)
        Masking.check(mask, n)
        precondition(p.cap > 0, "cap must be positive")
        let logRatio = levelLogRatios(logpOld: logpOld, logpMu: logpMu, mask: mask, sequences: sequences, level: p.level)
        var w = [Double](repeating: 0, count: n)
        var valid = 0, truncated = 0
        for i in 0..<n where Masking.valid(mask, i) {
            valid += 1
            let raw = LogRatio.ratio(logRatio[i])
            if raw > p.cap { truncated += 1 }
            w[i] = min(raw, p.cap)
        }
        if p.batchNormalize {
            var mean = 0.0
            switch p.level {
            case .token:
                mean = valid == 0 ? 0 : w.reduce(0, +) / Double(valid)
            case .sequence, .geometric:
                let ranges = LossAggregation.validated(sequences, count: n)
                let live = ranges.compactMap { r in r.first { Masking.valid(mask, $0) } }
                mean = live.isEmpty ? 0 : live.reduce(0) { $0 + w[$1] } / Double(live.count)
            }
            if mean > 1e-8 { w = w.map { $0 / mean } }
        }
        var stats = CorrectionStats.behaviour(logpi: logpOld, logmu: logpMu, mask: mask)
        stats.effectiveSampleSize = CorrectionStats.effectiveSampleSize(w, mask: mask)
        stats.truncatedFraction = Masking.fraction(truncated, of: valid)
        return Result(weights: w, stats: stats)
    }

    public struct RejectionParameters: Sendable {
        public var level: Level = .token
        /// Upper bound C of the kept interval `[lower, C]`.
        public var upper: Double = 2
        /// Lower bound; `nil` = `1 / upper` (§3 default).
        public var lower: Double? = nil
        /// Optional veto: drop a whole sequence if any of its valid tokens has a token ratio
        /// below this (verl's catastrophic-token veto). `nil` = off.
        public var vetoThreshold: Double? = nil
        public init() {}
        public init(level: Level = .token, upper: Double = 2, lower: Double? = nil, vetoThreshold: Double? = nil) {
            self.level = level
            self.upper = upper
            self.lower = lower
            self.vetoThreshold = vetoThreshold
        }
    }

    public struct RejectionResult: Sendable {
        /// 1 for kept tokens, 0 for rejected or invalid ones: multiply it into the loss mask.
        public var mask: [Double]
        /// `maskedFraction` (rejected valid tokens), ESS of the token ratios of the kept tokens,
        /// mean |lr_t| over the valid tokens.
        public var stats: CorrectionStats
    }

    /// Rejection (mask) variant (§3): keep a token when its level ratio lies in `[lower, upper]`
    /// (bounds included, compared in log space: `log lower ≤ x ≤ log upper`), drop it otherwise;
    /// with a veto threshold, drop every token of a sequence holding a token whose ratio is
    /// below it. Example: ratios (0.5, 1, 3), `[0.5, 2]` → (1, 1, 0).
    public static func rejectionMask(logpOld: [Double], logpMu: [Double], mask: [Double]? = nil,
                                     sequences: [Range<Int>]? = nil,
                                     parameters p: RejectionParameters = RejectionParameters()) -> RejectionResult {
        let n = logpOld.count
        precondition(logpMu.count == n)
        Masking.check(mask, n)
        let lower = p.lower ?? 1 / p.upper
        precondition(p.upper > 0 && lower > 0 && lower <= p.upper, "need 0 < lower ≤ upper")
        let logLower = log(lower), logUpper = log(p.upper)
        let x = levelLogRatios(logpOld: logpOld, logpMu: logpMu, mask: mask, sequences: sequences, level: p.level)
        var keep = [Double](repeating: 0, count: n)
        for i in 0..<n where Masking.valid(mask, i) && x[i] >= logLower && x[i] <= logUpper { keep[i] = 1 }
        if let veto = p.vetoThreshold {
            precondition(veto > 0)
            let logVeto = log(veto)
            for r in LossAggregation.validated(sequences, count: n)
            where r.contains(where: { Masking.valid(mask, $0) && logpOld[$0] - logpMu[$0] < logVeto }) {
                for i in r { keep[i] = 0 }
            }
        }
        var stats = CorrectionStats.behaviour(logpi: logpOld, logmu: logpMu, mask: mask)
        let kept = Int(keep.reduce(0, +))
        stats.maskedFraction = Masking.fraction(stats.samples - kept, of: stats.samples)
        let ratios = (0..<n).map { LogRatio.ratio(logpOld[$0] - logpMu[$0]) }
        stats.effectiveSampleSize = CorrectionStats.effectiveSampleSize(ratios, mask: keep)
        return RejectionResult(mask: keep, stats: stats)
    }

    /// Normalised effective sample size `1 / mean((w / mean w)²)` (§3 staleness monitor); see
    /// `CorrectionStats.effectiveSampleSize(_:mask:)`.
    public static func effectiveSampleSize(_ weights: [Double], mask: [Double]? = nil) -> Double {
        CorrectionStats.effectiveSampleSize(weights, mask: mask)
    }

    /// Per-token log-ratio of the chosen level (unclamped; 0 at invalid tokens).
    static func levelLogRatios(logpOld: [Double], logpMu: [Double], mask: [Double]?, sequences: [Range<Int>]?,
                               level: Level) -> [Double] {
        let n = logpOld.count
        var x = [Double](repeating: 0, count: n)
        switch level {
        case .token:
            for i in 0..<n where Masking.valid(mask, i) { x[i] = logpOld[i] - logpMu[i] }
        case .sequence, .geometric:
            for r in LossAggregation.validated(sequences, count: n) {
                var sum = 0.0, count = 0
                for i in r where Masking.valid(mask, i) {
                    sum += logpOld[i] - logpMu[i]
                    count += 1
                }
                guard count > 0 else { continue }
                let value = level == .sequence ? sum : sum / Double(count)
                for i in r where Masking.valid(mask, i) { x[i] = value }
            }
        }
        return x
    }
}
