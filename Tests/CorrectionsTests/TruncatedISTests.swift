import Corrections
import Foundation
import Testing

/// shared/specs/algorithms.md §3: token ratios (0.5, 1, 3), C = 2.
@Suite struct TruncatedISTests {
    let logpOld = [0.5, 1.0, 3.0].map { log($0) }
    let logpMu = [0.0, 0, 0]

    func weights(_ level: TruncatedIS.Level, cap: Double = 2, normalize: Bool = false, mask: [Double]? = nil,
                 sequences: [Range<Int>]? = nil) -> TruncatedIS.Result {
        TruncatedIS.weights(logpOld: logpOld, logpMu: logpMu, mask: mask, sequences: sequences,
                            parameters: TruncatedIS.Parameters(level: level, cap: cap, batchNormalize: normalize))
    }

    @Test func specExample() {
        let token = weights(.token)
        expectNear(token.weights, [0.5, 1, 2], "token weights")
        expectNear(token.stats.truncatedFraction, 1.0 / 3, "truncated fraction")
        // ESS of (0.5, 1, 2): 3.5² / (3 · 5.25).
        expectNear(token.stats.effectiveSampleSize, 0.777778, "ESS")
        expectNear(TruncatedIS.effectiveSampleSize(token.weights), 0.777778, "ESS helper")
        // Mean |lr| = (log 2 + 0 + log 3) / 3.
        expectNear(token.stats.meanAbsLogRatio, 0.597253, "mean |log ratio|")
        expectNear(weights(.sequence).weights, [1.5, 1.5, 1.5], "sequence weight")
        expectNear(weights(.geometric).weights, [1.144714, 1.144714, 1.144714], "geometric weight")
        #expect(weights(.sequence).stats.truncatedFraction == 0)
        let mask = TruncatedIS.rejectionMask(logpOld: logpOld, logpMu: logpMu,
                                             parameters: TruncatedIS.RejectionParameters(level: .token, upper: 2))
        #expect(mask.mask == [1, 1, 0])
        expectNear(mask.stats.maskedFraction, 1.0 / 3, "masked fraction")
    }

    @Test func capAndBatchNormalisation() {
        expectNear(weights(.sequence, cap: 1.2).weights, [1.2, 1.2, 1.2], "sequence capped")
        expectNear(weights(.token, normalize: true).weights, [0.428571, 0.857143, 1.714286], "token w / mean w")
        // Two sequences, weights 0.5 (one token) and 3 → capped 2: the mean over sequences is 1.25,
        // not the token mean (0.5 + 2 + 2) / 3.
        let two = weights(.sequence, normalize: true, sequences: [0..<1, 1..<3])
        expectNear(two.weights, [0.4, 1.6, 1.6], "sequence-level normalisation")
    }

    /// Masked tokens leave the sequence sum and get weight 0.
    @Test func maskedTokens() {
        let r = weights(.sequence, mask: [1, 1, 0])
        expectNear(r.weights, [0.5, 0.5, 0], "sequence over valid tokens")
        let g = weights(.geometric, mask: [0, 1, 1])
        expectNear(g.weights, [0, sqrt(3), sqrt(3)], "geometric over valid tokens")
        #expect(g.stats.samples == 2)
    }

    @Test func rejectionVariants() {
        func run(_ p: TruncatedIS.RejectionParameters, sequences: [Range<Int>]? = nil) -> [Double] {
            TruncatedIS.rejectionMask(logpOld: logpOld, logpMu: logpMu, sequences: sequences, parameters: p).mask
        }
        #expect(run(.init(level: .token, upper: 2, lower: 0.9)) == [0, 1, 0])
        #expect(run(.init(level: .token, upper: 3)) == [1, 1, 1])  // bounds inclusive: [1/3, 3]
        #expect(run(.init(level: .sequence, upper: 2)) == [1, 1, 1])  // 1.5 ∈ [0.5, 2]
        #expect(run(.init(level: .sequence, upper: 1.4)) == [0, 0, 0])
        #expect(run(.init(level: .geometric, upper: 1.2)) == [1, 1, 1])  // 1.1447
        #expect(run(.init(level: .token, upper: 4, vetoThreshold: 0.6), sequences: [0..<1, 1..<3]) == [0, 1, 1])
        #expect(run(.init(level: .token, upper: 4, vetoThreshold: 0.6)) == [0, 0, 0])
    }

    /// Sequence log-ratios grow with length: they are clamped at ±20 before exp, so weights stay
    /// finite (capped) instead of overflowing.
    @Test func hugeLogRatiosClamp() {
        let old = [Double](repeating: 5, count: 200)  // Σ lr = 1000
        let mu = [Double](repeating: 0, count: 200)
        let seq = TruncatedIS.weights(logpOld: old, logpMu: mu, parameters: .init(level: .sequence, cap: .greatestFiniteMagnitude))
        #expect(seq.weights.allSatisfy { $0 == exp(20) })
        let low = TruncatedIS.weights(logpOld: mu, logpMu: old, parameters: .init(level: .sequence))
        #expect(low.weights.allSatisfy { $0 == exp(-20) && $0 > 0 })
        expectNear(seq.stats.effectiveSampleSize, 1, "equal weights")
        let token = TruncatedIS.weights(logpOld: [800, -800], logpMu: [0, 0])
        #expect(token.weights == [2, exp(-20)] && token.stats.meanAbsLogRatio == 20)
        let mask = TruncatedIS.rejectionMask(logpOld: [800, -800, 0], logpMu: [0, 0, 0])
        #expect(mask.mask == [0, 0, 1])
    }

    @Test func emptyInputs() {
        for level in TruncatedIS.Level.allCases {
            let r = TruncatedIS.weights(logpOld: [], logpMu: [], parameters: .init(level: level, batchNormalize: true))
            #expect(r.weights.isEmpty && r.stats == CorrectionStats())
            let m = TruncatedIS.rejectionMask(logpOld: [], logpMu: [], parameters: .init(level: level, vetoThreshold: 0.1))
            #expect(m.mask.isEmpty && m.stats == CorrectionStats())
        }
        #expect(TruncatedIS.effectiveSampleSize([]) == 0)
        #expect(TruncatedIS.effectiveSampleSize([0, 0]) == 0)
        let allMasked = TruncatedIS.weights(logpOld: [1, 2], logpMu: [0, 0], mask: [0, 0],
                                            parameters: .init(level: .sequence, batchNormalize: true))
        #expect(allMasked.weights == [0, 0] && allMasked.stats.truncatedFraction == 0)
    }
}
