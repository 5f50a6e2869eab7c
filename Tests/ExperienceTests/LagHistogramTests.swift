import Domain
import Testing

/// The lag histogram's buckets: exact below 64, four per power of two above, so quantiles of
/// lags in the hundreds or millions are numbers, not "64+".
@Suite struct LagHistogramTests {
    @Test func bucketsAreExactBelow64AndQuarterOctavesAbove() {
        for lag: UInt64 in 0..<64 { #expect(LagHistogram.bucket(of: lag) == Int(lag)) }
        let expected: [(UInt64, Int)] = [(64, 64), (79, 64), (80, 65), (95, 65), (96, 66), (127, 67), (128, 68), (159, 68), (160, 69), (255, 71), (256, 72)]
        for (lag, bucket) in expected { #expect(LagHistogram.bucket(of: lag) == bucket, "lag \(lag)") }
        // Every bucket's bounds hold exactly the lags that map to it, up to the top of UInt64.
        let last = LagHistogram.bucket(of: .max)
        #expect(last == 64 + 4 * 57 + 3)
        for i in 0...last {
            let low = LagHistogram.lowerBound(ofBucket: i), high = LagHistogram.upperBound(ofBucket: i)
            #expect(LagHistogram.bucket(of: low) == i && LagHistogram.bucket(of: high) == i, "bucket \(i): \(low)…\(high)")
            if i > 0 { #expect(LagHistogram.upperBound(ofBucket: i - 1) + 1 == low) }
        }
        #expect(LagHistogram.upperBound(ofBucket: last) == .max)
    }

    @Test func quantilesAreNumbersAtAnyLagAndMaxAndSumAreExact() {
        var h = LagHistogram()
        #expect(h.quantile(0.5) == nil && h.maxLag == nil && h.mean == nil)
        h.add(lag: 10, count: 50)
        h.add(lag: 200, count: 40)
        h.add(lag: 1_000_003, count: 10)
        #expect(h.total == 100)
        #expect(h.quantile(0.5) == 10)           // exact below 64
        #expect(h.quantile(0.9) == 223)          // the top of 192–223, within 25 % of 200
        #expect(h.quantile(0.99) == 1_000_003)   // never above the largest lag
        #expect(h.maxLag == 1_000_003)
        #expect(h.sum == 500 + 8000 + 10_000_030)
        // Empty buckets beyond the largest lag are never stored.
        #expect(h.counts.count == LagHistogram.bucket(of: 1_000_003) + 1)
    }

    @Test func subtractTakesBackWhatAddAdded() {
        var a = LagHistogram(), b = LagHistogram()
        a.add(lag: 3, count: 2)
        b.add(lag: 90, count: 5)
        var sum = a
        sum.add(b)
        #expect(sum.maxLag == 90 && sum.total == 7)
        sum.subtract(b)
        #expect(sum == a)
        sum.subtract(a)
        #expect(sum.isEmpty && sum.total == 0 && sum.sum == 0)
    }
}
