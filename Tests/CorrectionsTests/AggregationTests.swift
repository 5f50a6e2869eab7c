@testable import Corrections
import Foundation
import Testing

/// shared/specs/algorithms.md §0, loss aggregation: sequence 1 token losses (1, 2), sequence 2
/// (1, 1, 1, 1), L_max = 4.
@Suite struct AggregationTests {
    /// Padded batch-major [2, 4] layout: the padding of sequence 1 is masked out and holds garbage.
    let losses = [1.0, 2, .nan, 99, 1, 1, 1, 1]
    let mask = [1.0, 1, 0, 0, 1, 1, 1, 1]
    let rows = LossAggregation.rows(count: 2, length: 4)

    @Test func specExampleOnThePaddedLayout() {
        #expect(rows == [0..<4, 4..<8])
        let want: [LossAggregation: Double] = [
            .tokenMean: 1.166667, .seqMeanTokenMean: 1.25, .seqMeanTokenSum: 3.5, .seqMeanTokenSumNorm: 1.75,
        ]
        for mode in LossAggregation.allCases {
            expectNear(mode.aggregate(losses, mask: mask, sequences: rows, maxLength: 4), want[mode]!, mode.rawValue)
            // L_max defaults to the padded row width.
            expectNear(mode.aggregate(losses, mask: mask, sequences: rows, maxLength: nil), want[mode]!, mode.rawValue)
        }
        // The spec's other constant denominator, B·L_max (Dr.GRPO paper): pass it as maxLength.
        expectNear(LossAggregation.seqMeanTokenSumNorm.aggregate(losses, mask: mask, sequences: rows, maxLength: 8),
                   0.875, "sum/(B·L_max)")
    }

    @Test func specExampleOnTheUnpaddedLayout() {
        let packed = [1.0, 2, 1, 1, 1, 1]
        let ones = [Double](repeating: 1, count: 6)
        let sequences = [0..<2, 2..<6]
        expectNear(LossAggregation.tokenMean.aggregate(packed, mask: ones, sequences: sequences, maxLength: nil), 1.166667, "token-mean")
        expectNear(LossAggregation.seqMeanTokenMean.aggregate(packed, mask: ones, sequences: sequences, maxLength: nil), 1.25, "seq-mean-token-mean")
        expectNear(LossAggregation.seqMeanTokenSum.aggregate(packed, mask: ones, sequences: sequences, maxLength: nil), 3.5, "seq-mean-token-sum")
        // Longest range is 4 = L_max.
        expectNear(LossAggregation.seqMeanTokenSumNorm.aggregate(packed, mask: ones, sequences: sequences, maxLength: nil), 1.75, "sum-norm")
        #expect(LossAggregation(rawValue: "seq-mean-token-sum-norm") == .seqMeanTokenSumNorm)
    }

    /// The weights are ∂L/∂l_i: finite differences of the aggregate in each finite loss.
    @Test func weightsAreTheGradientOfTheAggregate() {
        let x = [1.0, 2, 0.3, -0.7, 1, 1.5, 1, 1]
        for mode in LossAggregation.allCases {
            let w = mode.weights(mask: mask, sequences: rows, maxLength: 4)
            expectGradient(w, of: { mode.aggregate($0, mask: mask, sequences: rows, maxLength: 4) }, at: x, mode.rawValue)
            #expect(w[2] == 0 && w[3] == 0, "padding must get weight 0")
        }
        let tokenWeights = LossAggregation.tokenMean.weights(mask: mask, sequences: nil, maxLength: nil)
        expectNear(tokenWeights.reduce(0, +), 1, "token-mean weights sum to 1")
        let seqWeights = LossAggregation.seqMeanTokenMean.weights(mask: mask, sequences: rows, maxLength: nil)
        expectNear(seqWeights, [0.25, 0.25, 0, 0, 0.125, 0.125, 0.125, 0.125], "seq-mean-token-mean weights")
    }

    @Test func chainRuleOverload() {
        let g = [2.0, -1, .infinity, 5, 0.5, 0.5, 0.5, 0.5]
        let (loss, grad) = LossAggregation.tokenMean.aggregate(losses, gradients: g, mask: mask, sequences: rows, maxLength: nil)
        expectNear(loss, 7.0 / 6, "loss")
        expectNear(grad, [2.0 / 6, -1.0 / 6, 0, 0, 0.5 / 6, 0.5 / 6, 0.5 / 6, 0.5 / 6], "∂L/∂x")
    }

    /// A fully masked sequence is left out of the sequence means (verl excludes it), and no
    /// input at all gives 0, never NaN.
    @Test func emptyAndFullyMaskedInputs() {
        let three = [0..<2, 2..<4, 4..<6]
        let l = [1.0, 3, 5, 5, 2, 2]
        let m = [1.0, 1, 0, 0, 1, 1]
        expectNear(LossAggregation.seqMeanTokenMean.aggregate(l, mask: m, sequences: three, maxLength: nil), 2, "token means 2 and 2")
        expectNear(LossAggregation.seqMeanTokenSum.aggregate(l, mask: m, sequences: three, maxLength: nil), 4, "token sums 4 and 4")
        for mode in LossAggregation.allCases {
            #expect(mode.aggregate([], mask: [], sequences: nil, maxLength: nil) == 0)
            #expect(mode.aggregate([], mask: [], sequences: [], maxLength: nil) == 0)
            #expect(mode.aggregate([1, 2], mask: [0, 0], sequences: nil, maxLength: nil) == 0)
            #expect(mode.weights(mask: [0, 0], sequences: [0..<1, 1..<2], maxLength: 0) == [0, 0])
        }
    }

    /// Without sequences the whole array is one sequence.
    @Test func nilSequencesMeanOneSequence() {
        let l = [1.0, 2, 3, 6]
        let m = [1.0, 1, 1, 1]
        expectNear(LossAggregation.seqMeanTokenMean.aggregate(l, mask: m, sequences: nil, maxLength: nil), 3, "mean")
        expectNear(LossAggregation.seqMeanTokenSum.aggregate(l, mask: m, sequences: nil, maxLength: nil), 12, "sum")
        expectNear(LossAggregation.seqMeanTokenSumNorm.aggregate(l, mask: m, sequences: nil, maxLength: nil), 3, "sum / 4")
        expectNear(LossAggregation.seqMeanTokenSumNorm.aggregate(l, mask: m, sequences: nil, maxLength: 6), 2, "sum / 6")
    }
}
