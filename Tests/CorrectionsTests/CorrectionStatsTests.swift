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
