import Corrections
import Experience
import Foundation

/// The numbers logged for one learner update: one line of metrics.jsonl (`json`) and one
/// TensorBoard event (`scalars`, at step `envSteps`) are both made from a value of this type,
/// so the two sinks cannot disagree (RunDirectory writes both).
public struct UpdateMetrics: Sendable {
    public var update: UInt64
    public var policyVersion: UInt64
    public var seconds: Double
    /// Environment steps received so far: the TensorBoard step (the CleanRL/SB3 convention).
    public var envSteps: UInt64
    public var episodes: UInt64
    /// Mean return of the last (up to) 100 finished episodes; nil before the first.
    public var episodicReturnMean100: Double?
    public var loss: Double
    public var policyLoss: Double
    public var valueLoss: Double
    public var entropy: Double
    public var lagMin: UInt64
    public var lagMean: Double
    public var lagMax: UInt64
    public var rhoTruncatedFraction: Double
    /// The correction's name (`vtrace`, `ppo`, …).
    public var correction: String
    /// Fractions clipped/truncated/masked, ESS, mean |log ratio|, approx KL.
    public var stats: CorrectionStats
    public var chunksReused: Int
    public var buffer: BufferAccounting

    public init(update: UInt64, policyVersion: UInt64, seconds: Double, envSteps: UInt64, episodes: UInt64,
                episodicReturnMean100: Double?, loss: Double, policyLoss: Double, valueLoss: Double, entropy: Double,
                lagMin: UInt64, lagMean: Double, lagMax: UInt64, rhoTruncatedFraction: Double, correction: String,
                stats: CorrectionStats, chunksReused: Int, buffer: BufferAccounting) {
        self.update = update
        self.policyVersion = policyVersion
        self.seconds = seconds
        self.envSteps = envSteps
        self.episodes = episodes
        self.episodicReturnMean100 = episodicReturnMean100
        self.loss = loss
        self.policyLoss = policyLoss
        self.valueLoss = valueLoss
        self.entropy = entropy
        self.lagMin = lagMin
        self.lagMean = lagMean
        self.lagMax = lagMax
        self.rhoTruncatedFraction = rhoTruncatedFraction
        self.correction = correction
        self.stats = stats
        self.chunksReused = chunksReused
        self.buffer = buffer
    }

    /// Environment steps per second since the trainer started.
    public var sps: Double { seconds > 0 ? Double(envSteps) / seconds : 0 }

    /// The metrics.jsonl object (keys as documented in docs/operations.md).
    public var json: [String: Any] {
        var line = base
        if stats.groups > 0 {
            line["groups"] = stats.groups
            line["zero_advantage_group_fraction"] = stats.zeroAdvantageGroupFraction
            line["reward_mean"] = stats.rewardMean
            line["reward_std"] = stats.rewardStd
        }
        return line
    }

    private var base: [String: Any] {
        [
            "update": update, "policy_version": policyVersion, "time_s": seconds, "env_steps": envSteps,
            "sps": sps, "episodes": episodes,
            "episodic_return_mean100": episodicReturnMean100 ?? NSNull(), "loss": loss,
            "policy_loss": policyLoss, "value_loss": valueLoss, "entropy": entropy,
            "lag_min": lagMin, "lag_mean": lagMean, "lag_max": lagMax,
            "rho_truncated_fraction": rhoTruncatedFraction,
            "correction": correction, "clipped_fraction": stats.clippedFraction,
            "dual_clipped_fraction": stats.dualClippedFraction,
            "truncated_fraction": stats.truncatedFraction, "masked_fraction": stats.maskedFraction,
            "ess": stats.effectiveSampleSize, "mean_abs_log_ratio": stats.meanAbsLogRatio,
            "approx_kl": stats.approxKL,
            "chunks_reused": chunksReused,
            "buffer": [
                "received": buffer.received, "trained": buffer.trained, "dropped": Dictionary(uniqueKeysWithValues: buffer.dropped.map { ($0.key.rawValue, $0.value) }),
                "buffered": buffer.buffered, "training_uses": buffer.trainingUses,
            ] as [String: Any],
        ]
    }

    /// The TensorBoard scalars, tags grouped by section; each equals the metrics.jsonl key
    /// after the slash (`charts/episodic_return_mean100` is left out until an episode has finished; `buffer/*` are `buffer.*`, `buffer/dropped` the sum over reasons;
    /// `buffer/chunks_reused` is `chunks_reused`; `groups/*` only for group-relative methods).
    public var scalars: [(tag: String, value: Double)] {
        var s: [(tag: String, value: Double)] = []
        if let r = episodicReturnMean100 { s.append(("charts/episodic_return_mean100", r)) }
        s += [
            ("charts/sps", sps), ("charts/episodes", Double(episodes)),
            ("charts/policy_version", Double(policyVersion)), ("charts/update", Double(update)),
            ("losses/loss", loss), ("losses/policy_loss", policyLoss), ("losses/value_loss", valueLoss),
            ("losses/entropy", entropy), ("losses/approx_kl", stats.approxKL),
            ("staleness/lag_mean", lagMean), ("staleness/lag_max", Double(lagMax)), ("staleness/lag_min", Double(lagMin)),
            ("correction/clipped_fraction", stats.clippedFraction),
            ("correction/dual_clipped_fraction", stats.dualClippedFraction),
            ("correction/truncated_fraction", stats.truncatedFraction), ("correction/masked_fraction", stats.maskedFraction),
            ("correction/ess", stats.effectiveSampleSize), ("correction/mean_abs_log_ratio", stats.meanAbsLogRatio),
            ("correction/rho_truncated_fraction", rhoTruncatedFraction),
            ("buffer/received", Double(buffer.received)), ("buffer/trained", Double(buffer.trained)),
            ("buffer/dropped", Double(buffer.droppedTotal)), ("buffer/buffered", Double(buffer.buffered)),
            ("buffer/training_uses", Double(buffer.trainingUses)), ("buffer/chunks_reused", Double(chunksReused)),
        ]
        if stats.groups > 0 {
            s += [("groups/groups", Double(stats.groups)), ("groups/zero_advantage_group_fraction", stats.zeroAdvantageGroupFraction),
                  ("groups/reward_mean", stats.rewardMean), ("groups/reward_std", stats.rewardStd)]
        }
        return s
    }
}
