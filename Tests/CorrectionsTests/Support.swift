import Foundation
import Testing

/// Elementwise |got − want| < tolerance (and equal lengths).
func expectNear(_ got: [Double], _ want: [Double], _ what: String, tolerance: Double = 1e-6,
                sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.count == want.count, "\(what): \(got.count) values, want \(want.count)", sourceLocation: sourceLocation)
    for (g, w) in zip(got, want) {
        #expect(abs(g - w) < tolerance, "\(what): \(got) vs \(want)", sourceLocation: sourceLocation)
    }
}

func expectNear(_ got: Double, _ want: Double, _ what: String, tolerance: Double = 1e-6,
                sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(abs(got - want) < tolerance, "\(what): \(got) vs \(want)", sourceLocation: sourceLocation)
}

/// Central differences `(f(x + h e_i) − f(x − h e_i)) / 2h` of a scalar function, compared with
/// the analytic `gradient` in every coordinate. For per-sample losses `l_i(x_i)` pass
/// `f = Σ l_i`, whose partials are the per-sample derivatives.
func expectGradient(_ gradient: [Double], of f: ([Double]) -> Double, at x: [Double], h: Double = 1e-6,
                    tolerance: Double = 1e-6, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(gradient.count == x.count, sourceLocation: sourceLocation)
    for i in x.indices {
        var up = x, down = x
        up[i] += h
        down[i] -= h
        let numeric = (f(up) - f(down)) / (2 * h)
        #expect(abs(numeric - gradient[i]) < tolerance * max(1, abs(numeric)),
                "\(what) [\(i)]: finite difference \(numeric) vs analytic \(gradient[i])", sourceLocation: sourceLocation)
    }
}

/// Deterministic test randomness (SplitMix64).
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
