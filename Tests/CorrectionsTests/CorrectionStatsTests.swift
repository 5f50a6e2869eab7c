import Corrections
import Foundation
import Testing

/// The behaviour-vs-learner telemetry of §13 (ESS and mean |log ratio|).
@Suite struct CorrectionStatsTests {
    @Test func behaviourStatistics() {
        // Ratios (0.5, 1, 3): ESS = 4.5² / (3 · 10.25), mean |lr| = (log 2 + log 3) / 3.
        let s = CorrectionStats.behaviour(logpi: [0.5, 1, 3].map { log($0) }, logmu: [0, 0, 0])
        expectNear(s.effectiveSampleSize, 0.658537, "ESS")
        expectNear(s.meanAbsLogRatio, 0.597253, "mean |log ratio|")
        #expect(s.samples == 3 && s.clippedFraction == 0 && s.truncatedFraction == 0 && s.maskedFraction == 0)
        // The masked sample is left out.
        let m = CorrectionStats.behaviour(logpi: [log(0.5), log(0.5), 40], logmu: [0, 0, 0], mask: [1, 1, 0])
        expectNear(m.effectiveSampleSize, 1, "equal weights")
        expectNear(m.meanAbsLogRatio, log(2), "mean |log ratio| of the valid samples")
    }

    /// PPO's approx_kl, mean((r − 1) − log r), by hand: ratios (0.5, 1, 3) give
    /// (−0.5 + log 2, 0, 2 − log 3) = (0.193147, 0, 0.901388), mean 0.364845.
    @Test func approxKL() {
        let logpi = [0.5, 1, 3].map { log($0) }
        let s = CorrectionStats.behaviour(logpi: logpi, logmu: [0, 0, 0])
        expectNear(s.approxKL, 0.364845, "approx KL")
        expectNear(CorrectionStats.approxKL(logpi: logpi, logmu: [0, 0, 0]), 0.364845, "the same by itself")
        // Shifting both log-probabilities changes nothing; pi = mu gives 0.
        expectNear(CorrectionStats.approxKL(logpi: logpi.map { $0 - 2 }, logmu: [-2, -2, -2]), 0.364845, "shifted")
        #expect(CorrectionStats.approxKL(logpi: [-0.3, -1.2], logmu: [-0.3, -1.2]) == 0)
        // Masked samples are left out: only the ratio 0.5 counts.
        expectNear(CorrectionStats.approxKL(logpi: logpi, logmu: [0, 0, 0], mask: [1, 0, 0]), 0.193147, "masked")
        #expect(CorrectionStats.approxKL(logpi: [], logmu: []) == 0)
        // Log-ratios clamp to ±20: (e^20 − 21 + e^−20 + 19) / 2, finite.
        expectNear(CorrectionStats.approxKL(logpi: [1000, -1000], logmu: [0, 0]), 242_582_596.704895, "clamped", tolerance: 1e-4)
    }

    @Test func effectiveSampleSize() {
        expectNear(CorrectionStats.effectiveSampleSize([1, 1, 1, 1]), 1, "equal")
        expectNear(CorrectionStats.effectiveSampleSize([1, 0, 0, 0]), 0.25, "one sample carries everything")
        expectNear(CorrectionStats.effectiveSampleSize([2, 4, 100], mask: [1, 1, 0]), 36.0 / 40, "masked")
        #expect(CorrectionStats.effectiveSampleSize([]) == 0)
        #expect(CorrectionStats.effectiveSampleSize([3], mask: [0]) == 0)
    }

    /// Log-ratios beyond ±20 clamp: the statistics stay finite.
    @Test func hugeAndEmpty() {
        let s = CorrectionStats.behaviour(logpi: [1000, -1000, 0], logmu: [0, 0, 0])
        #expect(s.effectiveSampleSize.isFinite && s.effectiveSampleSize > 0)
        expectNear(s.meanAbsLogRatio, 40.0 / 3, "clamped to 20 each")
        #expect(CorrectionStats.behaviour(logpi: [], logmu: []) == CorrectionStats())
    }
}
