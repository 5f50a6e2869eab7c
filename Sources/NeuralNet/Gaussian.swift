#if canImport(Glibc)
import Domain
import Glibc
#endif

/// A diagonal Gaussian policy head for continuous actions: per dimension a mean (from the
/// network) and a log standard deviation, clamped to [−20, 2] so ratios cannot explode.
public enum Gaussian {
    public static let logStdRange: ClosedRange<Float> = -20...2
    public static let halfLog2Pi = 0.5 * Float(log(2 * Double.pi))

    public static func clampLogStd(_ x: Float) -> Float { min(max(x, logStdRange.lowerBound), logStdRange.upperBound) }

    /// log π(a) = Σ_i −½((a_i − m_i)/s_i)² − log s_i − ½ log 2π.
    public static func logProb(mean: [Float], logStd: [Float], action: [Float]) -> Float {
        var total: Float = 0
        for i in mean.indices {
            let ls = clampLogStd(logStd[i])
            let z = (action[i] - mean[i]) / expf(ls)
            total += -0.5 * z * z - ls - halfLog2Pi
        }
        return total
    }

    /// Σ_i log s_i + ½(1 + log 2π).
    public static func entropy(logStd: [Float]) -> Float {
        logStd.reduce(0) { $0 + clampLogStd($1) + 0.5 + halfLog2Pi }
    }

    /// KL(N(m1, s1) ‖ N(m2, s2)) = Σ_i log(s2/s1) + (s1² + (m1 − m2)²) / (2 s2²) − ½.
    public static func kl(mean1: [Float], logStd1: [Float], mean2: [Float], logStd2: [Float]) -> Float {
        var total: Float = 0
        for i in mean1.indices {
            let (l1, l2) = (clampLogStd(logStd1[i]), clampLogStd(logStd2[i]))
            let (s1, s2) = (expf(l1), expf(l2))
            let d = mean1[i] - mean2[i]
            total += l2 - l1 + (s1 * s1 + d * d) / (2 * s2 * s2) - 0.5
        }
        return total
    }

    public static func sample(mean: [Float], logStd: [Float], using rng: inout SplitMix64) -> [Float] {
        mean.indices.map { i in mean[i] + standardNormal(using: &rng) * expf(clampLogStd(logStd[i])) }
    }

    /// One N(0, 1) draw: Box–Muller from two uniforms, the first in (0, 1].
    public static func standardNormal(using rng: inout SplitMix64) -> Float {
        let u1 = max(Float(rng.nextUnit()), .leastNonzeroMagnitude)
        let u2 = Float(rng.nextUnit())
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }

    /// ∂ log π(a) / ∂m_i = (a_i − m_i)/s_i² and ∂ log π(a) / ∂ log s_i = ((a_i − m_i)/s_i)² − 1
    /// (zero where the clamp is active).
    public static func logProbGradient(mean: [Float], logStd: [Float], action: [Float]) -> (mean: [Float], logStd: [Float]) {
        var dm = [Float](repeating: 0, count: mean.count)
        var dls = [Float](repeating: 0, count: mean.count)
        for i in mean.indices {
            let ls = clampLogStd(logStd[i])
            let s = expf(ls)
            let d = action[i] - mean[i]
            dm[i] = d / (s * s)
            dls[i] = logStdRange.contains(logStd[i]) ? (d * d) / (s * s) - 1 : 0
        }
        return (dm, dls)
    }
}
