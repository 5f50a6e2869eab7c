#if canImport(Glibc)
import Glibc
#endif

/// Adam (Kingma & Ba) with bias correction and global gradient-norm clipping, over a flat
/// parameter vector; with `amsgrad`, AMSGrad (Reddi, Kale & Kumar, "On the Convergence of Adam
/// and Beyond", ICLR 2018): steps are divided by the largest second moment seen so far, not the
/// running one.
///
/// Why AMSGrad is CartPole's default (`TrainingPresets`; docs/scaling.md, "Learning that
/// holds"): once CartPole is solved every episode runs to the time limit, the advantages and
/// gradients are ~0 for thousands of updates, and Adam's running second moment v decays towards
/// 0 with them. The first failed episode then brings an ordinary gradient g while v is tiny:
/// m/√v jumps to ~(1 − β1)/√(1 − β2) ≈ 3 and every parameter moves ~3 learning rates at once.
/// The measured consequence was an approximate KL of 0.3–3.3 in one update, the return falling
/// from 500 to ~100 — or, when the softmax saturated (entropy ~1e-17), to 9.4 for good. Keeping
/// the maximum of v bounds every step by what gradients of that size have been given before.
public struct Adam: Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// Gradients whose global L2 norm exceeds this are scaled down to it; nil: no clipping.
    public var maxGradNorm: Float?
    public let amsgrad: Bool
    public private(set) var step = 0
    private var m: [Float]
    private var v: [Float]
    /// AMSGrad's running maximum of `v` (empty without it).
    private var vMax: [Float]

    public init(parameterCount: Int, learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, maxGradNorm: Float? = nil, amsgrad: Bool = false) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.maxGradNorm = maxGradNorm
        self.amsgrad = amsgrad
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
        vMax = amsgrad ? v : []
    }

    /// AMSGrad's maximum second moment (nil without AMSGrad). Setting it restores it exactly;
    /// a checkpoint written without one restores it as the running second moment.
    public var maxSecondMoment: [Float]? {
        get { amsgrad ? vMax : nil }
        set {
            guard amsgrad else { return }
            let restored = newValue ?? v
            precondition(restored.count == v.count, "a maximum second moment of another parameter count")
            vMax = restored
        }
    }

    /// The optimizer's state: its step count and the first and second moment estimates. Setting
    /// it restores an optimizer exactly (checkpoints).
    public var moments: (step: Int, m: [Float], v: [Float]) {
        get { (step, m, v) }
        set {
            precondition(newValue.m.count == m.count && newValue.v.count == v.count, "moments of another parameter count")
            (step, m, v) = (newValue.step, newValue.m, newValue.v)
        }
    }

    /// Applies one update in place (gradient of the loss to minimise). Returns the gradient's
    /// global norm before clipping.
    @discardableResult
    public mutating func update(_ parameters: inout [Float], gradient: [Float]) -> Float {
        precondition(parameters.count == m.count && gradient.count == m.count)
        var sumSquares: Double = 0
        for g in gradient { sumSquares += Double(g) * Double(g) }
        let norm = Float(sumSquares.squareRoot())
        let scale: Float = maxGradNorm.map { norm > $0 ? $0 / norm : 1 } ?? 1
        step += 1
        let c1 = 1 - powf(beta1, Float(step))
        let c2 = 1 - powf(beta2, Float(step))
        for i in parameters.indices {
            let g = gradient[i] * scale
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            var second = v[i]
            if amsgrad {
                vMax[i] = max(vMax[i], second)
                second = vMax[i]
            }
            parameters[i] -= learningRate * (m[i] / c1) / ((second / c2).squareRoot() + epsilon)
        }
        return norm
    }
}
