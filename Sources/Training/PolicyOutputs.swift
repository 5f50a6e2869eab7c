#if canImport(Glibc)
import Glibc
#endif
import NeuralNet

/// What one forward pass gave for a batch's samples: the taken actions' log-probabilities,
/// entropies and values, and — when asked for — the values of the rows value targets need (the
/// bootstrap observations and each truncated step's final observation). Objectives see only
/// these numbers, never the network: the trainer owns the forward and backward passes.
public struct PolicyOutputs: Sendable {
    /// log π(a_i | x_i) per sample (index t·B + b).
    public var logpi: [Double]
    /// H(π(· | x_i)) per sample.
    public var entropy: [Double]
    /// V(x_i) per sample.
    public var values: [Double]
    /// V of each column's bootstrap observation ([B]); empty unless targets were asked for.
    public var bootstrapValues: [Double]
    /// V of each truncated step's final observation, in increasing sample index; empty unless
    /// targets were asked for.
    public var finalValues: [Double]

    /// What the gradient needs again (categorical log-probabilities of every action).
    var logp: [Float] = []
    /// The raw outputs of every row.
    var raw: [Float] = []
}

/// The forward pass and the way back through the policy head, for either head.
enum PolicyPass {
    /// The forward pass of `batch` (with the target rows of `TrainingBatch.targetInput` when
    /// `withTargets`), keeping what backward needs when `training`.
    static func forward(_ net: ActorCritic, _ b: TrainingBatch, withTargets: Bool, training: Bool) -> (PolicyOutputs, MLP.Cache?) {
        let n = b.samples
        let (input, rows) = withTargets ? b.targetInput() : (b.observations, n)
        precondition(input.count == rows * net.observationSize, "observations do not match the network's input")
        let out: [Float]
        var cache: MLP.Cache?
        if training {
            (out, cache) = net.network.forwardForTraining(input, batch: rows, distinctRows: b.repeatsRows)
        } else {
            out = net.network.forward(input, batch: rows, distinctRows: b.repeatsRows)
        }
        let stride = net.head.outputs + 1
        func value(_ row: Int) -> Double { Double(out[row * stride + stride - 1]) }
        var outputs = PolicyOutputs(logpi: [], entropy: [], values: (0..<n).map(value), bootstrapValues: [], finalValues: [], raw: out)
        if withTargets {
            outputs.bootstrapValues = (0..<b.batch).map { value(n + $0) }
            outputs.finalValues = (0..<(rows - n - b.batch)).map { value(n + b.batch + $0) }
        }
        switch net.head {
        case .categorical(let k):
            var logits = [Float](repeating: 0, count: n * k)
            for i in 0..<n { for j in 0..<k { logits[i * k + j] = out[i * stride + j] } }
            let logp = Categorical.logSoftmax(logits, actions: k)
            outputs.logpi = (0..<n).map { Double(logp[$0 * k + Int(b.actions[$0])]) }
            outputs.entropy = Categorical.entropy(logp, actions: k).map(Double.init)
            outputs.logp = logp
        case .gaussian(let d):
            precondition(b.continuousActions.count == n * d, "a Gaussian policy needs continuous actions")
            // Gaussian.logProb and .entropy, written out to avoid per-row arrays.
            var logpi = [Double](repeating: 0, count: n)
            var entropy = [Double](repeating: 0, count: n)
            let halfLog2Pi = 0.5 * Float(log(2 * Double.pi))
            for i in 0..<n {
                var lp: Float = 0, h: Float = 0
                for j in 0..<d {
                    let ls = Gaussian.clampLogStd(out[i * stride + d + j])
                    let z = (b.continuousActions[i * d + j] - out[i * stride + j]) / expf(ls)
                    lp += -0.5 * z * z - ls - halfLog2Pi
                    h += ls + 0.5 + halfLog2Pi
                }
                logpi[i] = Double(lp)
                entropy[i] = Double(h)
            }
            outputs.logpi = logpi
            outputs.entropy = entropy
        }
        return (outputs, cache)
    }

    /// dL/d(outputs) of L = Σ_i (w_i log π(a_i) + e_i H_i + u_i V_i) for the first `samples`
    /// rows (target rows get no gradient), for either head.
    static func outputGradient(_ net: ActorCritic, _ o: PolicyOutputs, batch b: TrainingBatch, rows: Int,
                               logpWeights: [Float], entropyWeights: [Float], valueWeights: [Float]) -> [Float] {
        let n = b.samples
        let stride = net.head.outputs + 1
        var dOut = [Float](repeating: 0, count: rows * stride)
        switch net.head {
        case .categorical(let k):
            let g = Categorical.gradient(logp: o.logp, actions: k, taken: b.actions, logpWeights: logpWeights, entropyWeights: entropyWeights)
            for i in 0..<n { for j in 0..<k { dOut[i * stride + j] = g[i * k + j] } }
        case .gaussian(let d):
            // Gaussian.logProbGradient, written out: ∂/∂m = (a − m)/s², ∂/∂log s = z² − 1, and
            // ∂H/∂log s = 1, the log-std terms zero where the clamp is active.
            for i in 0..<n {
                for j in 0..<d {
                    let raw = o.raw[i * stride + d + j]
                    let s = expf(Gaussian.clampLogStd(raw))
                    let diff = b.continuousActions[i * d + j] - o.raw[i * stride + j]
                    let inside: Float = Gaussian.logStdRange.contains(raw) ? 1 : 0
                    dOut[i * stride + j] = logpWeights[i] * diff / (s * s)
                    dOut[i * stride + d + j] = inside * (logpWeights[i] * (diff * diff / (s * s) - 1) + entropyWeights[i])
                }
            }
        }
        for i in 0..<n { dOut[i * stride + stride - 1] = valueWeights[i] }
        return dOut
    }
}
