import Experience
import Corrections
import Foundation
import Learner
import Testing

/// metrics.jsonl and the TensorBoard scalars come from one `UpdateMetrics`: each scalar is the
/// number under its key in the JSON line.
@Suite struct UpdateMetricsTests {
    func sample(returnMean: Double?) -> UpdateMetrics {
        var stats = CorrectionStats()
        stats.clippedFraction = 0.25
        stats.effectiveSampleSize = 0.9
        stats.meanAbsLogRatio = 0.05
        stats.approxKL = 0.0013
        var buffer = BufferAccounting()
        buffer.received = 40
        buffer.trained = 32
        buffer.dropped = [.stale: 3, .evicted: 1]
        buffer.buffered = 4
        buffer.trainingUses = 32
        return UpdateMetrics(update: 10, policyVersion: 11, seconds: 2, envSteps: 5000, episodes: 7,
                             episodicReturnMean100: returnMean, loss: 1.5, policyLoss: -0.2, valueLoss: 1.7,
                             entropy: 0.69, lagMin: 1, lagMean: 2.5, lagMax: 4, rhoTruncatedFraction: 0.1,
                             correction: "vtrace", stats: stats, chunksReused: 0, buffer: buffer)
    }

    @Test func scalarsEqualTheJSONLine() throws {
        let m = sample(returnMean: 21.5)
        let json = m.json
        let buffer = try #require(json["buffer"] as? [String: Any])
        func number(_ key: String) -> Double? {
            if key == "buffer.dropped" { return (buffer["dropped"] as? [String: UInt64])?.values.map { Double($0) }.reduce(0, +) }
            let v = key.hasPrefix("buffer.") ? buffer[String(key.dropFirst(7))] : json[key]
            return (v as? NSNumber)?.doubleValue ?? (v as? Double) ?? (v as? UInt64).map { Double($0) } ?? (v as? Int).map { Double($0) }
        }
        let keys = ["charts/episodic_return": "episodic_return_mean100", "buffer/dropped": "buffer.dropped",
                    "buffer/chunks_reused": "chunks_reused"]
        #expect(m.scalars.count == 26)
        #expect(Set(m.scalars.map(\.tag)).count == m.scalars.count, "tags are unique")
        for (tag, value) in m.scalars {
            let key = keys[tag] ?? (tag.hasPrefix("buffer/") ? "buffer." : "") + String(tag.split(separator: "/")[1])
            #expect(number(key) == value, "\(tag) = \(value), metrics.jsonl \(key) = \(String(describing: number(key)))")
        }
        #expect(number("approx_kl") == 0.0013)
        #expect(number("sps") == 2500)
    }

    @Test func noReturnNoPoint() {
        let m = sample(returnMean: nil)
        #expect(m.json["episodic_return_mean100"] is NSNull)
        #expect(!m.scalars.contains { $0.tag == "charts/episodic_return" })
    }
}
