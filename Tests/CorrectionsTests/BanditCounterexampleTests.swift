import Foundation
import Testing
@testable import Corrections

/// The three-armed bandit of `shared/specs/algorithms.md` §15, the seed paper's counterexample:
/// rewards (0, 0.8, 1), behaviour (0.3, 0.6, 0.1). With infinite K (exact expectations) plain
/// group REINFORCE on off-policy data converges to arm 2; the regularised methods stop short of
/// that or reach arm 3. Every method's per-arm gradient comes from `REC.compute`, the code the
/// learner trains with: the expected logit update is `Σ_y β(y) · (−∂l_y/∂log π(y)) · (e_y − π)`.
@Suite struct BanditCounterexampleTests {
    static let rewards = [0.0, 0.8, 1.0]
    static let behaviour = [0.3, 0.6, 0.1]

    enum Method: CustomStringConvertible {
        case reinforce, oneSide(Double, Double), opmd, asymRE

        var parameters: REC.Parameters {
            switch self {
            case .reinforce: REC.Parameters(clipMode: .none)
            case .oneSide(let lo, let hi): REC.Parameters(clipMode: .oneSide, epsLow: lo, epsHigh: hi)
            case .opmd: REC.Parameters(clipMode: .none, regularizer: .k2, coefficient: 0.1)
            case .asymRE: REC.Parameters(clipMode: .none, regularizer: .forwardKL, coefficient: 0.1)
            }
        }

        var description: String {
            switch self {
            case .reinforce: "REINFORCE"
            case .oneSide(let lo, let hi): "REC-OneSide-NoIS (\(lo), \(hi))"
            case .opmd: "OPMD"
            case .asymRE: "AsymRE"
            }
        }
    }

    static func softmax(_ l: [Double]) -> [Double] {
        let m = l.max()!
        let e = l.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Runs the recipe; `refresh` nil = offline. Returns the final π and the first step with
    /// π(arm 3) > 0.9 (nil: never).
    static func run(_ method: Method, lr: Double, steps: Int, refresh: Int?) -> (pi: [Double], hit: Int?) {
        var logits = behaviour.map { log($0) }
        var beta = behaviour
        var hit: Int?
        for t in 0..<steps {
            if let k = refresh, t % k == 0 { beta = softmax(logits) }
            let pi = softmax(logits)
            if hit == nil, pi[2] > 0.9 { hit = t }
            let mean = zip(beta, rewards).reduce(0) { $0 + $1.0 * $1.1 }
            let a = rewards.map { $0 - mean }
            let g = REC.compute(logp: pi.map { log($0) }, logpOld: beta.map { log($0) }, advantages: a, parameters: method.parameters)
            var step = [0.0, 0, 0]
            for y in 0..<3 {
                let c = beta[y] * -g.gradients[y]
                for j in 0..<3 { step[j] += c * ((j == y ? 1 : 0) - pi[j]) }
            }
            for j in 0..<3 { logits[j] += lr * step[j] }
        }
        return (softmax(logits), hit)
    }

    static func expectedReward(_ pi: [Double]) -> Double { zip(pi, rewards).reduce(0) { $0 + $1.0 * $1.1 } }

    @Test func theExpectedGradientFavoursArmTwo() {
        // a(y) = μ(y)(r(y) − r̄) = (−0.174, 0.132, 0.042) with r̄ = 0.58.
        let mean = zip(Self.behaviour, Self.rewards).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(mean - 0.58) < 1e-12)
        let a = zip(Self.behaviour, Self.rewards).map { $0 * ($1 - mean) }
        expectNear(a, [-0.174, 0.132, 0.042], "a(y)")
    }

    @Test(arguments: [
        (Method.reinforce, [0.0, 1, 0], 0.80),
        (.oneSide(0.2, 0.2), [0.16, 0.72, 0.12], 0.696),
        (.oneSide(0.6, 2.0), [0.004, 0.757, 0.239], 0.845),
        (.opmd, [0.016, 0.775, 0.209], 0.829),
        (.asymRE, [0.0, 1, 0], 0.80),
    ])
    func offline(method: Method, pi: [Double], reward: Double) {
        let r = Self.run(method, lr: 0.05, steps: 20_000, refresh: nil)
        expectNear(r.pi, pi, "\(method) final π", tolerance: 6e-3)
        expectNear(Self.expectedReward(r.pi), reward, "\(method) expected reward", tolerance: 2e-3)
    }

    /// §15's periodic table: first step with π(arm 3) > 0.9, or the final expected reward when never.
    @Test(arguments: [
        (1, Method.reinforce, 204, 0.0), (1, .oneSide(0.2, 0.2), 204, 0), (1, .opmd, 204, 0), (1, .asymRE, 204, 0),
        (1, .oneSide(0.6, 2.0), 204, 0),
        (20, .reinforce, 235, 0), (20, .oneSide(0.2, 0.2), 262, 0), (20, .opmd, 249, 0), (20, .asymRE, 242, 0),
        (20, .oneSide(0.6, 2.0), 195, 0),
        (100, .reinforce, -1, 0.827), (100, .oneSide(0.2, 0.2), 1004, 0), (100, .opmd, 509, 0), (100, .asymRE, 908, 0),
        (100, .oneSide(0.6, 2.0), 301, 0),
        (500, .reinforce, -1, 0.80), (500, .oneSide(0.2, 0.2), -1, 0.926), (500, .opmd, 2056, 0), (500, .asymRE, -1, 0.80),
        (500, .oneSide(0.6, 2.0), 1044, 0),
    ])
    func periodic(refresh: Int, method: Method, firstStep: Int, finalReward: Double) {
        let r = Self.run(method, lr: 0.5, steps: 3_000, refresh: refresh)
        if firstStep >= 0 {
            #expect(r.hit.map { abs($0 - firstStep) <= 1 } ?? false, "\(method), refresh \(refresh): π3 > 0.9 at \(r.hit.map(String.init) ?? "never"), spec \(firstStep)")
        } else {
            #expect(r.hit == nil, "\(method), refresh \(refresh): spec says never, got \(r.hit ?? -1)")
            expectNear(Self.expectedReward(r.pi), finalReward, "\(method), refresh \(refresh) final expected reward", tolerance: 2e-3)
        }
    }
}
