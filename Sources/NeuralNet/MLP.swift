import Domain
import CKernels

/// Nonlinearity between hidden layers.
public enum Activation: String, Sendable, CaseIterable, Codable {
    case tanh, relu

    /// Applies the nonlinearity to every element, with the vectorised kernels of `CKernels`
    /// (tanh is a rational approximation within a few ulp of `tanhf`).
    public func apply(_ y: inout [Float]) {
        y.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            switch self {
            case .tanh: tributary_tanh(base, p.count)
            case .relu: tributary_relu(base, p.count)
            }
        }
    }
}

/// A multilayer perceptron whose parameters live in one flat Float32 vector (so Adam, the
/// gradient and the wire format all see one array). Layer l maps `sizes[l]` to
/// `sizes[l+1]`: Y = X·W + b with W stored row-major [in, out], then the activation on
/// every layer but the last, which is linear (heads take it from there).
public struct MLP: Sendable {
    public let sizes: [Int]
    public let activation: Activation
    public var parameters: [Float]
    /// Where layer l's W and b start in `parameters`.
    public let weightOffsets: [Int]
    public let biasOffsets: [Int]

    public var layerCount: Int { sizes.count - 1 }
    public var inputSize: Int { sizes.first! }
    public var outputSize: Int { sizes.last! }

    /// Deterministic initialisation from `seed`: W uniform in ±sqrt(6 / (in + out)) (Glorot),
    /// scaled by `outputScale` for the last layer (a small policy head starts near uniform),
    /// b = 0.
    public init(sizes: [Int], activation: Activation, seed: UInt64, outputScale: Float = 1) {
        precondition(sizes.count >= 2 && sizes.allSatisfy { $0 > 0 }, "an MLP needs at least an input and an output size")
        self.sizes = sizes
        self.activation = activation
        var wo: [Int] = []
        var bo: [Int] = []
        var count = 0
        for l in 0..<(sizes.count - 1) {
            wo.append(count)
            count += sizes[l] * sizes[l + 1]
            bo.append(count)
            count += sizes[l + 1]
        }
        weightOffsets = wo
        biasOffsets = bo
        var params = [Float](repeating: 0, count: count)
        var rng = SplitMix64(seed: seed)
        for l in 0..<(sizes.count - 1) {
            let limit = (6 / Float(sizes[l] + sizes[l + 1])).squareRoot() * (l == sizes.count - 2 ? outputScale : 1)
            for i in 0..<(sizes[l] * sizes[l + 1]) {
                params[wo[l] + i] = Float(rng.nextUnit() * 2 - 1) * limit
            }
        }
        parameters = params
    }

    /// What the forward pass keeps for the backward pass: the input of every layer and the
    /// (activated) output of every hidden layer.
    /// With `distinct`, the layers ran on the distinct rows only (`batch` of them) and the
    /// caller's rows map onto them.
    public struct Cache: Sendable {
        public var batch: Int
        public var inputs: [[Float]]
        public var distinct: DistinctRows? = nil
    }

    /// Outputs [batch, outputSize] for inputs [batch, inputSize] (row-major). With
    /// `distinctRows`, the network runs once per distinct input row (`DistinctRows`): the same
    /// outputs, cheaper when rows repeat.
    public func forward(_ x: [Float], batch: Int, distinctRows: Bool = false) -> [Float] {
        if distinctRows, let d = DistinctRows(x, rows: batch, width: inputSize) {
            return d.expand(forward(d.data, batch: d.count, keep: false).0, width: outputSize)
        }
        return forward(x, batch: batch, keep: false).0
    }

    /// The forward pass, keeping what `backward` needs (`distinctRows` as in `forward`).
    public func forwardForTraining(_ x: [Float], batch: Int, distinctRows: Bool = false) -> ([Float], Cache) {
        if distinctRows, let d = DistinctRows(x, rows: batch, width: inputSize) {
            var (y, cache) = forward(d.data, batch: d.count, keep: true)
            cache!.distinct = d
            return (d.expand(y, width: outputSize), cache!)
        }
        let (y, cache) = forward(x, batch: batch, keep: true)
        return (y, cache!)
    }

    private func forward(_ x: [Float], batch: Int, keep: Bool) -> ([Float], Cache?) {
        precondition(x.count == batch * inputSize, "input has \(x.count) floats, expected \(batch) × \(inputSize)")
        // Per thread, and cheap: whichever thread runs a network runs it without denormals.
        tributary_flush_denormals()
        var a = x
        var inputs: [[Float]] = []
        if keep { inputs.reserveCapacity(layerCount) }
        for l in 0..<layerCount {
            let (n, m) = (sizes[l], sizes[l + 1])
            if keep { inputs.append(a) }
            var z = [Float](unsafeUninitializedCapacity: batch * m) { buffer, count in
                parameters.withUnsafeBufferPointer { p in
                    // Every row of z starts as the bias, then z += a·W.
                    tributary_fill_rows(buffer.baseAddress!, p.baseAddress! + biasOffsets[l], batch, m)
                    a.withUnsafeBufferPointer { ap in
                        BLAS.gemm(m: batch, n: m, k: n, a: ap.baseAddress!, lda: n,
                                  b: p.baseAddress! + weightOffsets[l], ldb: m, beta: 1, c: buffer.baseAddress!, ldc: m)
                    }
                }
                count = batch * m
            }
            if l < layerCount - 1 { activation.apply(&z) }
            a = z
        }
        return (a, keep ? Cache(batch: batch, inputs: inputs) : nil)
    }

    /// Gradients for dL/dOutput `dOut` [batch, outputSize]: dL/dparameters (same layout as
    /// `parameters`) and dL/dinput [batch, inputSize].
    /// Without `inputGradient` the last product (dL/dinput, which training never needs) is
    /// skipped and `input` is empty. A pass over distinct rows has no per-row input gradient
    /// (equal rows' output gradients were summed): `input` is empty then too.
    public func backward(_ cache: Cache, dOut: [Float], inputGradient: Bool = true) -> (parameters: [Float], input: [Float]) {
        tributary_flush_denormals()
        let batch = cache.batch
        // Equal rows ran once: their output gradients add up (backpropagation is linear in them).
        var dA = cache.distinct.map { $0.fold(dOut, width: outputSize) } ?? dOut
        precondition(dA.count == batch * outputSize)
        var grad = [Float](repeating: 0, count: parameters.count)
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            let (n, m) = (sizes[l], sizes[l + 1])
            var dZ = dA
            if l < layerCount - 1 {
                // The activated output of layer l is the input of layer l + 1.
                cache.inputs[l + 1].withUnsafeBufferPointer { y in
                    dZ.withUnsafeMutableBufferPointer { dz in
                        switch activation {
                        case .tanh: tributary_tanh_backward(dz.baseAddress!, y.baseAddress!, dz.count)
                        case .relu: tributary_relu_backward(dz.baseAddress!, y.baseAddress!, dz.count)
                        }
                    }
                }
            }
            let input = cache.inputs[l]
            grad.withUnsafeMutableBufferPointer { g in
                input.withUnsafeBufferPointer { ip in
                    dZ.withUnsafeBufferPointer { dz in
                        // dW = inputᵀ · dZ
                        BLAS.gemm(transA: true, m: n, n: m, k: batch, a: ip.baseAddress!, lda: n,
                                  b: dz.baseAddress!, ldb: m, c: g.baseAddress! + weightOffsets[l], ldc: m)
                    }
                }
                dZ.withUnsafeBufferPointer { dz in
                    tributary_sum_rows(g.baseAddress! + biasOffsets[l], dz.baseAddress!, batch, m)
                }
            }
            if l == 0 && (!inputGradient || cache.distinct != nil) { return (grad, []) }
            var dPrev = [Float](repeating: 0, count: batch * n)
            parameters.withUnsafeBufferPointer { p in
                dZ.withUnsafeBufferPointer { dz in
                    dPrev.withUnsafeMutableBufferPointer { dp in
                        // dInput = dZ · Wᵀ
                        BLAS.gemm(transB: true, m: batch, n: n, k: m, a: dz.baseAddress!, lda: m,
                                  b: p.baseAddress! + weightOffsets[l], ldb: m, c: dp.baseAddress!, ldc: n)
                    }
                }
            }
            dA = dPrev
        }
        return (grad, dA)
    }
}
