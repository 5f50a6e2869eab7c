#if canImport(Glibc)
import Domain
import Glibc
#endif
import Foundation
import NeuralNet
import Testing

private func randomArray(_ n: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) * scale }
}

@Suite struct BLASTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func sgemmMatchesThePlainLoop(transA: Bool, transB: Bool) {
        var rng = SplitMix64(seed: 7)
        let (m, n, k) = (13, 7, 29)
        let a = randomArray(m * k, &rng)
        let b = randomArray(k * n, &rng)
        let lda = transA ? m : k
        let ldb = transB ? k : n
        var expected = randomArray(m * n, &rng)
        var got = expected
        ReferenceKernels.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda,
                              b: b, ldb: ldb, beta: 2, c: &expected, ldc: n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                got.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: lda,
                              b: bp.baseAddress!, ldb: ldb, beta: 2, c: cp.baseAddress!, ldc: n)
                }
            }
        }
        for i in expected.indices { #expect(abs(expected[i] - got[i]) < 1e-4, "element \(i)") }
    }

    @Test func coreNameIsReported() {
        #expect(!BLAS.coreName.isEmpty)
        #expect(BLAS.coreName != "unknown")
    }
}

@Suite struct MLPTests {
    @Test func initialisationIsDeterministic() {
        let a = MLP(sizes: [4, 8, 2], activation: .tanh, seed: 3)
        let b = MLP(sizes: [4, 8, 2], activation: .tanh, seed: 3)
        let c = MLP(sizes: [4, 8, 2], activation: .tanh, seed: 4)
        #expect(a.parameters == b.parameters)
        #expect(a.parameters != c.parameters)
        #expect(a.parameters.count == 4 * 8 + 8 + 8 * 2 + 2)
    }

    @Test func forwardMatchesAPlainComputation() {
        let net = MLP(sizes: [3, 2], activation: .tanh, seed: 1)
        let x: [Float] = [1, 2, 3, -1, 0, 0.5]
        let y = net.forward(x, batch: 2)
        for r in 0..<2 {
            for j in 0..<2 {
                var z = net.parameters[net.biasOffsets[0] + j]
                for i in 0..<3 { z += x[r * 3 + i] * net.parameters[net.weightOffsets[0] + i * 2 + j] }
                #expect(abs(y[r * 2 + j] - z) < 1e-5)
            }
        }
    }

    /// The vectorised tanh against glibc's `tanhf`, over its whole range (saturation, the tiny
    /// region where it is the identity) and at every length, so each vector tail is covered.
    @Test func tanhKernelMatchesTheCLibrary() {
        var values: [Float] = [0, -0, 1e-8, -3e-4, 4e-4, 0.5, -1, 3, -7.9, 8, 9, -20, 1e6, -.greatestFiniteMagnitude]
        for i in 0...24_000 { values.append(Float(i - 12_000) / 1000) }
        var y = values
        Activation.tanh.apply(&y)
        var worst: Float = 0
        for (x, t) in zip(values, y) {
            worst = max(worst, abs(t - tanhf(x)))
            #expect(abs(t) <= 1)
        }
        #expect(worst < 1e-6, "largest difference from tanhf: \(worst)")
        for n in 1...40 {
            var part = Array(values[1000..<(1000 + n)])
            Activation.tanh.apply(&part)
            #expect(part == Array(y[1000..<(1000 + n)]))
        }
        var r: [Float] = [-2, -0.0, 0, 1e-30, 3]
        Activation.relu.apply(&r)
        #expect(r == [0, 0, 0, 1e-30, 3])
    }

    @Test func twoLayerForwardMatchesPlainLoopsWithTanhf() {
        let net = MLP(sizes: [3, 5, 2], activation: .tanh, seed: 2)
        var rng = SplitMix64(seed: 3)
        let x = randomArray(4 * 3, &rng, scale: 2)
        let y = net.forward(x, batch: 4)
        let p = net.parameters
        for r in 0..<4 {
            var h = [Float](repeating: 0, count: 5)
            for j in 0..<5 {
                var z = p[net.biasOffsets[0] + j]
                for i in 0..<3 { z += x[r * 3 + i] * p[net.weightOffsets[0] + i * 5 + j] }
                h[j] = tanhf(z)
            }
            for j in 0..<2 {
                var z = p[net.biasOffsets[1] + j]
                for i in 0..<5 { z += h[i] * p[net.weightOffsets[1] + i * 2 + j] }
                #expect(abs(y[r * 2 + j] - z) < 1e-5)
            }
        }
    }

    /// Finite differences of L = Σ output · R against the analytic gradient, in every parameter
    /// and every input, for both activations.
    @Test(arguments: Activation.allCases)
    func gradientsMatchFiniteDifferences(activation: Activation) {
        var rng = SplitMix64(seed: 11)
        var net = MLP(sizes: [3, 5, 4, 2], activation: activation, seed: 5)
        let batch = 3
        let x = randomArray(batch * 3, &rng)
        let r = randomArray(batch * 2, &rng)
        func loss(_ n: MLP, _ input: [Float]) -> Double {
            zip(n.forward(input, batch: batch), r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let (_, cache) = net.forwardForTraining(x, batch: batch)
        let (gp, gx) = net.backward(cache, dOut: r)
        let eps: Float = 1e-2
        for i in net.parameters.indices {
            let saved = net.parameters[i]
            net.parameters[i] = saved + eps
            let up = loss(net, x)
            net.parameters[i] = saved - eps
            let down = loss(net, x)
            net.parameters[i] = saved
            let numeric = Float((up - down) / Double(2 * eps))
            #expect(abs(numeric - gp[i]) < 2e-3 + 2e-2 * abs(numeric), "parameter \(i): \(numeric) vs \(gp[i])")
        }
        for i in x.indices {
            var xu = x
            xu[i] += eps
            var xd = x
            xd[i] -= eps
            let numeric = Float((loss(net, xu) - loss(net, xd)) / Double(2 * eps))
            #expect(abs(numeric - gx[i]) < 2e-3 + 2e-2 * abs(numeric), "input \(i): \(numeric) vs \(gx[i])")
        }
    }
}

@Suite struct CategoricalTests {
    @Test func logSoftmaxIsNormalisedAndStable() {
        let logp = Categorical.logSoftmax([1, 2, 3, 1000, 1000, 1000], actions: 3)
        for r in 0..<2 {
            let total = (0..<3).reduce(Float(0)) { $0 + expf(logp[r * 3 + $1]) }
            #expect(abs(total - 1) < 1e-6)
        }
        #expect(abs(logp[3] - logf(1.0 / 3)) < 1e-6)
        // softmax([1,2,3]) = [0.09003057, 0.24472847, 0.66524096]
        #expect(abs(expf(logp[0]) - 0.09003057) < 1e-6)
        #expect(abs(Categorical.entropy(logp, actions: 3)[1] - logf(3)) < 1e-6)
    }

    @Test func samplingFollowsTheDistribution() {
        var rng = SplitMix64(seed: 9)
        var logits: [Float] = []
        for _ in 0..<20_000 { logits += [0, logf(3)] }  // p = (0.25, 0.75)
        let logp = Categorical.logSoftmax(logits, actions: 2)
        let actions = Categorical.sample(logp, actions: 2, using: &rng)
        let share = Float(actions.filter { $0 == 1 }.count) / Float(actions.count)
        #expect(abs(share - 0.75) < 0.015)
    }

    @Test func gradientMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 2)
        let actions = 4
        let rows = 3
        var logits = randomArray(rows * actions, &rng, scale: 2)
        let taken: [Int32] = [0, 3, 1]
        let w: [Float] = [1.5, -0.5, 2]
        let c: [Float] = [0.1, 0.3, -0.2]
        func loss(_ l: [Float]) -> Double {
            let lp = Categorical.logSoftmax(l, actions: actions)
            let h = Categorical.entropy(lp, actions: actions)
            var total: Double = 0
            for r in 0..<rows {
                let chosen: Float = lp[r * actions + Int(taken[r])]
                total += Double(w[r] * chosen + c[r] * h[r])
            }
            return total
        }
        let grad = Categorical.gradient(logp: Categorical.logSoftmax(logits, actions: actions), actions: actions,
                                        taken: taken, logpWeights: w, entropyWeights: c)
        let eps: Float = 1e-2
        for i in logits.indices {
            let saved = logits[i]
            logits[i] = saved + eps
            let up = loss(logits)
            logits[i] = saved - eps
            let down = loss(logits)
            logits[i] = saved
            let numeric = Float((up - down) / Double(2 * eps))
            #expect(abs(numeric - grad[i]) < 1e-3 + 1e-2 * abs(numeric), "logit \(i): \(numeric) vs \(grad[i])")
        }
    }
}

@Suite struct AdamTests {
    /// Hand-computed: g = (0.5, -2), lr 0.1. Step 1: m̂ = g, v̂ = g², update = lr·sign(g).
    /// Step 2 with g = (0.5, 1): m = (0.095, -0.08), v = (0.00049975, 0.004996);
    /// m̂ = m / 0.19 = (0.5, -0.421053), v̂ = v / 0.001999 = (0.25, 2.49925);
    /// update = lr · m̂ / sqrt(v̂) = (0.1, -0.026634).
    @Test func updatesMatchHandComputedNumbers() {
        var p: [Float] = [1, 1]
        var adam = Adam(parameterCount: 2, learningRate: 0.1)
        adam.update(&p, gradient: [0.5, -2])
        #expect(abs(p[0] - 0.9) < 1e-6)
        #expect(abs(p[1] - 1.1) < 1e-6)
        adam.update(&p, gradient: [0.5, 1])
        #expect(abs(p[0] - 0.8) < 1e-5)
        #expect(abs(p[1] - (1.1 + 0.026634)) < 1e-5)
    }

    /// The failure AMSGrad is the default against: a long run of ~0 gradients (a solved task,
    /// every episode at the time limit) lets Adam's running second moment decay, and the next
    /// ordinary gradient then moves the parameter ~(1 − β1)/√(1 − β2) ≈ 3 learning rates. AMSGrad
    /// divides by the largest second moment seen and moves it less than one.
    @Test func afterAQuietStretchAMSGradDoesNotAmplifyTheNextGradient() {
        func lastStep(amsgrad: Bool) -> Float {
            var p: [Float] = [0]
            var adam = Adam(parameterCount: 1, learningRate: 0.01, amsgrad: amsgrad)
            for _ in 0..<200 { adam.update(&p, gradient: [1]) }   // learning
            for _ in 0..<20000 { adam.update(&p, gradient: [0]) }  // solved: nothing to learn
            let before = p[0]
            adam.update(&p, gradient: [1])                           // the first failure
            return abs(p[0] - before) / 0.01
        }
        let adam = lastStep(amsgrad: false), ams = lastStep(amsgrad: true)
        #expect(adam > 2.5, "Adam moved \(adam) learning rates")
        #expect(ams < 1, "AMSGrad moved \(ams) learning rates")
        // Without a quiet stretch the two agree: the maximum is the running moment.
        var a: [Float] = [1, 1], b: [Float] = [1, 1]
        var plain = Adam(parameterCount: 2, learningRate: 0.1), max = Adam(parameterCount: 2, learningRate: 0.1, amsgrad: true)
        plain.update(&a, gradient: [0.5, -2])
        max.update(&b, gradient: [0.5, -2])
        #expect(a == b)
        #expect(max.maxSecondMoment?.count == 2 && plain.maxSecondMoment == nil)
    }

    @Test func globalNormClippingScalesTheGradient() {
        var a: [Float] = [0, 0]
        var b: [Float] = [0, 0]
        var clipped = Adam(parameterCount: 2, learningRate: 0.1, maxGradNorm: 1)
        var scaled = Adam(parameterCount: 2, learningRate: 0.1)
        let norm = clipped.update(&a, gradient: [3, 4])
        scaled.update(&b, gradient: [0.6, 0.8])
        #expect(norm == 5)
        #expect(a == b)
    }
}

/// The check numbers of shared/specs/algorithms.md §0.
@Suite struct GaussianTests {
    @Test func specCheckNumbers() {
        let logStd = [logf(0.5), logf(2)]
        #expect(abs(Gaussian.logProb(mean: [0, 1], logStd: logStd, action: [0.5, 0]) - (-2.462877)) < 1e-5)
        #expect(abs(Gaussian.entropy(logStd: logStd) - 2.837877) < 1e-5)
        let kl = Gaussian.kl(mean1: [0, 1], logStd1: [logf(0.5), logf(2)], mean2: [0.2, 1], logStd2: [logf(0.5), logf(1)])
        #expect(abs(kl - 0.886853) < 1e-5)
        #expect(Gaussian.kl(mean1: [0.3], logStd1: [0.1], mean2: [0.3], logStd2: [0.1]) == 0)
    }

    @Test func logStdIsClamped() {
        #expect(Gaussian.entropy(logStd: [50]) == Gaussian.entropy(logStd: [2]))
        #expect(Gaussian.logProb(mean: [0], logStd: [-100], action: [0]) == Gaussian.logProb(mean: [0], logStd: [-20], action: [0]))
    }

    @Test func gradientMatchesFiniteDifferences() {
        let mean: [Float] = [0.3, -1.2]
        let logStd: [Float] = [-0.4, 0.7]
        let action: [Float] = [0.1, 0.5]
        let (dm, dls) = Gaussian.logProbGradient(mean: mean, logStd: logStd, action: action)
        let eps: Float = 1e-2
        for i in 0..<2 {
            var up = mean, down = mean
            up[i] += eps
            down[i] -= eps
            let numericMean = (Gaussian.logProb(mean: up, logStd: logStd, action: action) - Gaussian.logProb(mean: down, logStd: logStd, action: action)) / (2 * eps)
            #expect(abs(numericMean - dm[i]) < 1e-2 * max(1, abs(dm[i])))
            var lsUp = logStd, lsDown = logStd
            lsUp[i] += eps
            lsDown[i] -= eps
            let numericStd = (Gaussian.logProb(mean: mean, logStd: lsUp, action: action) - Gaussian.logProb(mean: mean, logStd: lsDown, action: action)) / (2 * eps)
            #expect(abs(numericStd - dls[i]) < 1e-2 * max(1, abs(dls[i])))
        }
    }

    @Test func samplesHaveTheRightMoments() {
        var rng = SplitMix64(seed: 5)
        let samples = (0..<40_000).map { _ in Gaussian.sample(mean: [1.5], logStd: [logf(0.5)], using: &rng)[0] }
        let mean = samples.reduce(0, +) / Float(samples.count)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(samples.count)
        #expect(abs(mean - 1.5) < 0.01)
        #expect(abs(variance - 0.25) < 0.01)
    }
}

@Suite struct BLASRuntimeTests {
    @Test func coreTypeFollowsCPUFeatures() {
        #expect(BLASRuntime.coreType(forCPUFlags: ["sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"]) == "SkylakeX")
        #expect(BLASRuntime.coreType(forCPUFlags: ["sse2", "avx", "avx2", "fma"]) == "Haswell")
        #expect(BLASRuntime.coreType(forCPUFlags: ["sse2", "avx"]) == nil)
        #expect(BLASRuntime.coreType(forCPUFlags: []) == nil)
    }

    @Test func theLoadedKernelAgreesWithThePlainLoop() {
        #expect(BLASRuntime.selfCheck(), "OpenBLAS core \(BLAS.coreName) disagrees with the reference product")
    }
}

@Suite struct WeightsRoundTripTests {
    @Test func parametersTravelBitExactly() throws {
        let net = ActorCritic(observationSize: 4, hidden: [64, 64], actions: 2, seed: 17)
        let copy = try ActorCritic(spec: net.modelSpec, bytes: net.parameterBytes)
        #expect(copy.network.parameters.map(\.bitPattern) == net.network.parameters.map(\.bitPattern))
        #expect(copy.network.sizes == [4, 64, 64, 3])
        #expect(copy.evaluate([0.1, 0.2, 0.3, 0.4], rows: 1).values == net.evaluate([0.1, 0.2, 0.3, 0.4], rows: 1).values)
    }

    @Test func mismatchedWeightsAreRefused() {
        let net = ActorCritic(observationSize: 4, hidden: [8], actions: 2, seed: 1)
        #expect(throws: ModelError.self) { try ActorCritic(spec: net.modelSpec, bytes: Array(net.parameterBytes.dropLast())) }
        var spec = net.modelSpec
        spec.activation = "sigmoid"
        #expect(throws: ModelError.self) { try ActorCritic(spec: spec, bytes: net.parameterBytes) }
    }
}

/// docs/protocol.md §8, "The parameter bytes of each model family", implemented from the text
/// alone (plain loops over the little-endian bytes, no NeuralNet code) and checked against the
/// network that published the bytes: what a foreign worker builds acts as Tributary's does.
@Suite struct WireLayoutTests {
    /// The documented forward pass: per layer W [in, out] row-major then b; tanh/relu on every
    /// layer but the last; outputs [policy part | value].
    static func documentedForward(_ spec: ModelSpec, _ bytes: [UInt8], _ x: [Float]) -> [Float] {
        let floats: [Float] = stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
        let p = spec.head == "gaussian" ? 2 * spec.actionSize : spec.actionSize
        let sizes = [spec.observationSize] + spec.hiddenSizes + [p + 1]
        var h = x, at = 0
        for l in 0..<(sizes.count - 1) {
            let (n, m) = (sizes[l], sizes[l + 1])
            var out = [Float](repeating: 0, count: m)
            for j in 0..<m {
                var z = floats[at + n * m + j]  // b_l[j]
                for i in 0..<n { z += h[i] * floats[at + i * m + j] }  // W_l[i, j]
                out[j] = l == sizes.count - 2 ? z : (spec.activation == "tanh" ? tanhf(z) : max(0, z))
            }
            at += n * m + m
            h = out
        }
        #expect(at == floats.count, "the documented layout accounts for every float")
        return h
    }

    @Test(arguments: ["categorical", "gaussian"]) func theBytesFollowTheDocumentedLayout(head: String) {
        let net = head == "categorical"
            ? ActorCritic(observationSize: 4, hidden: [64, 64], actions: 2, seed: 3)
            : ActorCritic(observationSize: 3, hidden: [32, 16], head: .gaussian(dimensions: 2), activation: .relu, seed: 5)
        var rng = SplitMix64(seed: 9)
        for _ in 0..<5 {
            let x = (0..<net.observationSize).map { _ in Float(rng.nextUnit() * 4 - 2) }
            let documented = Self.documentedForward(net.modelSpec, net.parameterBytes, x)
            let own = net.network.forward(x, batch: 1)
            #expect(documented.count == own.count)
            for (a, b) in zip(documented, own) { #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "\(documented) vs \(own)") }
        }
        if head == "categorical" { #expect(net.parameterBytes.count == 4_675 * 4) }
    }
}

/// Golden fixtures for foreign clients (docs/protocol.md §13): a network's ModelSpec and parameter
/// bytes, observations, and what Tributary computes from them (raw outputs, log-probs or means and
/// clamped log-stds, values). A client checks its forward pass against these files
/// (python/tests does). The test recomputes them and fails when the committed files disagree;
/// TRIBUTARY_RECORD_GOLDEN=1 writes them again (only when the layout changes on purpose).
@Suite struct GoldenPolicyTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static func fixture(head: String) -> (net: ActorCritic, json: [String: Any]) {
        let net = head == "categorical"
            ? ActorCritic(observationSize: 4, hidden: [64, 64], actions: 2, seed: 11)
            : ActorCritic(observationSize: 3, hidden: [64, 64], head: .gaussian(dimensions: 1), seed: 12)
        var rng = SplitMix64(seed: 13)
        let rows = 8
        // Large enough inputs that the clamp and both activations' ranges are exercised.
        let x = (0..<(rows * net.observationSize)).map { _ in Float(rng.nextUnit() * 6 - 3) }
        let out = net.network.forward(x, batch: rows)
        var json: [String: Any] = [
            "model": ["family": ActorCritic.family, "hidden_sizes": net.modelSpec.hiddenSizes, "activation": net.modelSpec.activation,
                      "head": net.modelSpec.head, "observation_size": net.observationSize, "action_size": net.actions],
            "parameters_base64": Data(net.parameterBytes).base64EncodedString(),
            "observations": x.map(Double.init), "rows": rows, "outputs": out.map(Double.init),
        ]
        if head == "categorical" {
            let (logp, values) = net.split(out, rows: rows)
            json["log_probs"] = logp.map(Double.init)
            json["values"] = values.map(Double.init)
        } else {
            let (mean, logStd, values) = net.splitGaussian(out, rows: rows)
            json["means"] = mean.map(Double.init)
            json["log_stds"] = logStd.map { Double(Gaussian.clampLogStd($0)) }
            json["values"] = values.map(Double.init)
        }
        return (net, json)
    }

    @Test(arguments: ["categorical", "gaussian"]) func theCommittedFixtureIsWhatThisBuildComputes(head: String) throws {
        let url = Self.directory.appendingPathComponent("policy-\(head).json")
        let (_, json) = Self.fixture(head: head)
        if ProcessInfo.processInfo.environment["TRIBUTARY_RECORD_GOLDEN"] == "1" {
            try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: url)
        }
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], "\(url.path)")
        #expect(stored["parameters_base64"] as? String == json["parameters_base64"] as? String, "the parameters changed")
        for key in ["outputs", "values", "log_probs", "means", "log_stds"] where json[key] != nil {
            let want = try #require(stored[key] as? [Double], "\(key)"), got = try #require(json[key] as? [Double])
            #expect(want.count == got.count)
            for (a, b) in zip(want, got) { #expect(abs(a - b) <= 1e-6 * max(1, abs(a)), "\(key): stored \(a), computed \(b)") }
        }
    }
}

/// Running the network once per distinct row gives the same outputs and the same parameter
/// gradient as running it on every row (`DistinctRows`).
@Suite struct DistinctRowsTests {
    @Test func findsTheDistinctRowsAndMapsEveryRowToItsOwn() throws {
        // Rows: a, b, a, c, b, a (width 3); −0 and +0 are different bits, so kept apart.
        let a: [Float] = [1, 0, 2], b: [Float] = [1, 0, 3], c: [Float] = [-0.0, 0, 2], c2: [Float] = [0, 0, 2]
        let x = a + b + a + c + b + a + c2
        let d = try #require(DistinctRows(x, rows: 7, width: 3))
        #expect(d.count == 4 && d.index == [0, 1, 0, 2, 1, 0, 3])
        #expect(d.data == a + b + c + c2)
        #expect(d.expand(d.data, width: 3) == x)
        #expect(d.fold([Float](repeating: 1, count: 21), width: 3) == [3, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1])
        // All distinct: not worth it.
        #expect(DistinctRows(a + b + c, rows: 3, width: 3) == nil)
    }

    @Test(arguments: [Activation.relu, .tanh])
    func outputsAndGradientsMatchTheFullPass(activation: Activation) throws {
        var rng = SplitMix64(seed: 11)
        let net = MLP(sizes: [6, 32, 32, 5], activation: activation, seed: 3)
        // 40 rows drawn from 7 patterns.
        let patterns = (0..<7).map { _ in randomArray(6, &rng) }
        let rows = 40
        let x = (0..<rows).flatMap { _ in patterns[Int(rng.next() % 7)] }
        let dOut = randomArray(rows * 5, &rng)
        let (full, fullCache) = net.forwardForTraining(x, batch: rows)
        let (shared, sharedCache) = net.forwardForTraining(x, batch: rows, distinctRows: true)
        #expect(sharedCache.distinct != nil && sharedCache.batch <= 7)
        #expect(net.forward(x, batch: rows, distinctRows: true) == shared)
        for i in 0..<full.count { #expect(abs(full[i] - shared[i]) <= 1e-5, "output \(i)") }
        let g = net.backward(fullCache, dOut: dOut)
        let h = net.backward(sharedCache, dOut: dOut)
        let scale = g.parameters.map(abs).max()!
        for i in 0..<g.parameters.count { #expect(abs(g.parameters[i] - h.parameters[i]) <= 1e-5 * scale, "parameter \(i)") }
        // Equal rows' output gradients were summed: there is no per-row input gradient.
        #expect(h.input.isEmpty && net.backward(fullCache, dOut: dOut, inputGradient: false).input.isEmpty)
    }
}
