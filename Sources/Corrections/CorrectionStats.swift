#if canImport(Glibc)
import Glibc
#endif

/// What a correction did to one batch, for telemetry (`shared/specs/algorithms.md` §13:
/// "fraction of ratios clipped/truncated/masked, ESS, mean |log ratio|").
///
/// Every fraction is over the valid samples (mask ≠ 0) of the call that filled it; a field a
/// correction does not use stays 0. With no valid samples everything is 0 (never NaN).
public struct CorrectionStats: Sendable, Equatable {
    /// Number of valid samples (mask ≠ 0) the fractions are taken over.
    public var samples: Int = 0
    /// Samples whose clipped surrogate branch was active (its gradient is 0): PPO/APPO/AReaL
    /// `l2 > l1`, verl's `pg_clipfrac`.
    public var clippedFraction: Double = 0
    /// Samples where the dual clip `−A·c` bound (A < 0 only), verl's `pg_clipfrac_lower`.
    public var dualClippedFraction: Double = 0
    /// Samples whose importance weight hit its cap and was truncated (TIS `w > C`, APPO
    /// `is > target clip`, V-trace `ρ > ρ̄`).
    public var truncatedFraction: Double = 0
    /// Samples dropped: TIS rejection mask, AReaL behaviour filter (`b > cap`).
    public var maskedFraction: Double = 0
    /// Normalised effective sample size of the importance weights, `1 / mean((w / mean w)²)`,
    /// in (0, 1]; 1 when all weights are equal. See `effectiveSampleSize(_:mask:)`.
    public var effectiveSampleSize: Double = 0
    /// Mean |log ratio| between behaviour and learner log-probabilities (log-ratios clamped to
    /// ±20 like everywhere in this module).
    public var meanAbsLogRatio: Double = 0
    /// The standard PPO `approx_kl` (Schulman's k3 estimator, as CleanRL and SB3 log it):
    /// `mean((r − 1) − log r)` with `r = exp(clamp(logpi − logmu, ±20))`, an estimate of
    /// KL(mu ‖ pi) from samples of the behaviour policy mu; ≥ 0 per sample, 0 when pi = mu.
    /// See `approxKL(logpi:logmu:mask:)`.
    public var approxKL: Double = 0
    /// Group-relative methods: the groups in the batch, the fraction whose advantages are all 0
    /// (every answer rewarded alike: no signal), and the mean and population std of the
    /// sequences' returns. 0 for the other corrections.
    public var groups: Int = 0
    public var zeroAdvantageGroupFraction: Double = 0
    public var rewardMean: Double = 0
    public var rewardStd: Double = 0

    public init() {}

    /// The behaviour-vs-learner statistics of a batch (§13): the effective sample size of
    /// `w = exp(clamp(logpi − logmu, ±20))`, `mean |clamp(logpi − logmu, ±20)|` and the
    /// `approxKL` `mean((w − 1) − log w)`, over the valid samples (mask ≠ 0; `nil` = all valid).
    /// The other fields stay 0.
    public static func behaviour(logpi: [Double], logmu: [Double], mask: [Double]? = nil) -> CorrectionStats {
        precondition(logpi.count == logmu.count)
        Masking.check(mask, logpi.count)
        var stats = CorrectionStats()
        var weights = [Double](repeating: 0, count: logpi.count)
        var absSum = 0.0, klSum = 0.0
        for i in logpi.indices where Masking.valid(mask, i) {
            let lr = LogRatio.clamp(logpi[i] - logmu[i])
            weights[i] = exp(lr)
            absSum += abs(lr)
            klSum += (weights[i] - 1) - lr
            stats.samples += 1
        }
        stats.meanAbsLogRatio = stats.samples == 0 ? 0 : absSum / Double(stats.samples)
        stats.approxKL = stats.samples == 0 ? 0 : klSum / Double(stats.samples)
        stats.effectiveSampleSize = effectiveSampleSize(weights, mask: mask)
        return stats
    }

    /// `mean((r − 1) − log r)` with `r = exp(clamp(logpi − logmu, ±20))` over the valid samples
    /// (mask ≠ 0; `nil` = all), 0 without any: PPO's `approx_kl` between the behaviour policy mu
    /// and the learner pi (the k3 estimator of KL(mu ‖ pi)). The same value as `behaviour(…)`
    /// puts in `approxKL`.
    public static func approxKL(logpi: [Double], logmu: [Double], mask: [Double]? = nil) -> Double {
        behaviour(logpi: logpi, logmu: logmu, mask: mask).approxKL
    }

    /// Normalised effective sample size (§3): `ESS = 1 / mean_i((w_i / mean w)²)` over the valid
    /// samples (mask ≠ 0; `nil` = all), i.e. `(Σw)² / (n Σw²)`, in (0, 1]. Multiply by the sample
    /// count for Kish's ESS. 0 when there are no valid samples or all their weights are 0.
    public static func effectiveSampleSize(_ weights: [Double], mask: [Double]? = nil) -> Double {
        Masking.check(mask, weights.count)
        var n = 0.0, sum = 0.0, sumSquares = 0.0
        for i in weights.indices where Masking.valid(mask, i) {
            n += 1
            sum += weights[i]
            sumSquares += weights[i] * weights[i]
        }
        guard n > 0, sumSquares > 0, sumSquares.isFinite else { return 0 }
        return sum * sum / (n * sumSquares)
    }
}

/// Ratios in log space (§0): `rho = exp(clamp(log_rho, −20, 20))`.
enum LogRatio {
    static let bound = 20.0

    static func clamp(_ x: Double) -> Double { min(bound, max(-bound, x)) }

    /// `exp(clamp(x, ±20))`.
    static func ratio(_ x: Double) -> Double { exp(clamp(x)) }

    /// d exp(clamp(x)) / dx = exp(x) inside [−20, 20] (bounds included, as torch.clamp's
    /// backward), 0 outside where the clamp holds the value constant.
    static func ratioDerivative(_ x: Double) -> Double { abs(x) <= bound ? exp(x) : 0 }
}

/// Masks are per-sample weights; `nil` means every sample is valid, and a sample is valid when
/// its mask value is not 0.
enum Masking {
    static func check(_ mask: [Double]?, _ n: Int) {
        if let mask { precondition(mask.count == n, "mask has \(mask.count) entries for \(n) samples") }
    }

    static func valid(_ mask: [Double]?, _ i: Int) -> Bool { mask.map { $0[i] != 0 } ?? true }

    static func fraction(_ count: Int, of total: Int) -> Double { total == 0 ? 0 : Double(count) / Double(total) }
}
