#if canImport(Glibc)
import Glibc
#endif

/// Adam (Kingma & Ba) with bias correction and global gradient-norm clipping, over a flat
/// parameter vector.
public struct Adam: Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// Gradients whose global L2 norm exceeds this are scaled down to it; nil: no clipping.
    public var maxGradNorm: Float?
    public private(set) var step = 0
    private var m: [Float]
    private var v: [Float]

    public init(parameterCount: Int, learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, maxGradNorm: Float? = nil) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.maxGradNorm = maxGradNorm
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
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
            parameters[i] -= learningRate * (m[i] / c1) / ((v[i] / c2).squareRoot() + epsilon)
        }
        return norm
    }
}
