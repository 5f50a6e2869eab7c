import Foundation
import NeuralNet
import PolicyArtifacts
import Testing

@Suite struct SafetensorsExportTests {
    /// The file as the safetensors format defines it, read back by hand: header length, JSON
    /// header, contiguous little-endian float32 data covering the buffer exactly.
    func read(_ data: Data) throws -> (header: [String: Any], tensors: [String: (shape: [Int], values: [Float])]) {
        let bytes = [UInt8](data)
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        #expect((8 + n) % 8 == 0, "the data starts 8-byte aligned")
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        let body = Array(bytes[(8 + n)...])
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        var covered = 0
        for (name, value) in header where name != "__metadata__" {
            let t = try #require(value as? [String: Any])
            #expect(t["dtype"] as? String == "F32")
            let shape = try #require(t["shape"] as? [Int])
            let range = try #require(t["data_offsets"] as? [Int])
            #expect(range[1] - range[0] == shape.reduce(1, *) * 4)
            covered += range[1] - range[0]
            let values = stride(from: range[0], to: range[1], by: 4).map { o in
                Float(bitPattern: UInt32(body[o]) | UInt32(body[o + 1]) << 8 | UInt32(body[o + 2]) << 16 | UInt32(body[o + 3]) << 24)
            }
            tensors[name] = (shape, values)
        }
        #expect(covered == body.count, "the tensors cover the data exactly")
        return (header, tensors)
    }

    /// x @ W.T + b with W [out, in], as a PyTorch user computes it.
    func linear(_ x: [Float], _ w: (shape: [Int], values: [Float]), _ b: (shape: [Int], values: [Float])) -> [Float] {
        let (outputs, inputs) = (w.shape[0], w.shape[1])
        return (0..<outputs).map { o in (0..<inputs).reduce(b.values[o]) { $0 + x[$1] * w.values[o * inputs + $1] } }
    }

    @Test(arguments: [PolicyHead.categorical(actions: 3), .gaussian(dimensions: 2)])
    func theTensorsComputeWhatTheNetworkComputes(head: PolicyHead) throws {
        var net = ActorCritic(observationSize: 5, hidden: [7, 6], head: head, activation: .tanh, seed: 42)
        // Non-zero biases everywhere (a fresh network has none), log-std included.
        for i in net.network.parameters.indices { net.network.parameters[i] += Float(i % 13) * 0.01 - 0.05 }
        net.maskGradient(&net.network.parameters)
        let (header, t) = try read(try SafetensorsExport.encode(net, metadata: ["env_id": "X"]))
        let meta = try #require(header["__metadata__"] as? [String: String])
        #expect(meta["format"] == "tributary-actor-critic/1" && meta["env_id"] == "X" && meta["hidden_sizes"] == "7,6")
        #expect(meta["activation"] == "tanh" && meta["observation_size"] == "5" && meta["action_size"] == String(net.actions))
        #expect(t["torso.0.weight"]?.shape == [7, 5] && t["torso.1.weight"]?.shape == [6, 7] && t["value.weight"]?.shape == [1, 6])

        let observation: [Float] = [0.3, -1.2, 0.05, 2.0, -0.4]
        var x = observation
        for l in 0..<2 { x = linear(x, t["torso.\(l).weight"]!, t["torso.\(l).bias"]!).map { tanhf($0) } }
        let policy = linear(x, t["policy.weight"]!, t["policy.bias"]!)
        let value = linear(x, t["value.weight"]!, t["value.bias"]!)[0]
        let raw = net.network.forward(observation, batch: 1)
        switch head {
        case .categorical(let a):
            #expect(policy.count == a && t["policy.log_std"] == nil)
            for j in 0..<a { #expect(abs(policy[j] - raw[j]) < 1e-5) }
            #expect(abs(value - raw[a]) < 1e-5)
        case .gaussian(let d):
            let (mean, logStd, values) = net.splitGaussian(raw, rows: 1)
            for j in 0..<d { #expect(abs(policy[j] - mean[j]) < 1e-5) }
            #expect(t["policy.log_std"]!.values == logStd, "log σ is the bias alone: its weights are zero")
            #expect(abs(value - values[0]) < 1e-5)
            #expect(meta["log_std_min"] == "-20.0" && meta["log_std_max"] == "2.0")
        }
    }
}

@Suite struct PolicyEvaluatorTests {
    /// A CartPole policy by hand: push toward the side the pole leans (a classic ~200-return
    /// controller), so evaluation is checked against a known behaviour.
    func leaningPolicy() -> ActorCritic {
        var net = ActorCritic(observationSize: 4, hidden: [2], head: .categorical(actions: 2), activation: .tanh, seed: 1)
        let n = net.network
        for i in n.parameters.indices { net.network.parameters[i] = 0 }
        // Hidden unit 0 = tanh(10 × (angle + angular velocity)); logits = (−5, +5) × unit 0.
        net.network.parameters[n.weightOffsets[0] + 2 * 2 + 0] = 10
        net.network.parameters[n.weightOffsets[0] + 3 * 2 + 0] = 10
        net.network.parameters[n.weightOffsets[1] + 0 * 3 + 0] = -5
        net.network.parameters[n.weightOffsets[1] + 0 * 3 + 1] = 5
        return net
    }

    @Test func exactlyTheEpisodesAskedForAndGreedyIsDeterministic() throws {
        let policy = leaningPolicy()
        let a = try #require(PolicyEvaluator.evaluate(policy, envID: "CartPole-v1", episodes: 23, greedy: true, seed: 3))
        #expect(a.episodes.count == 23)
        #expect(a == PolicyEvaluator.evaluate(policy, envID: "CartPole-v1", episodes: 23, greedy: true, seed: 3))
        #expect(a.meanReturn > 100, "the leaning controller keeps the pole up a while: \(a.meanReturn)")
        #expect(a.episodes.allSatisfy { $0.episodeReturn == Double($0.length) }, "CartPole pays 1 per step")
        let returns = a.episodes.map(\.episodeReturn)
        let mean = returns.reduce(0, +) / 23
        #expect(abs(a.meanReturn - mean) < 1e-9)
        #expect(abs(a.stdReturn - (returns.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 23).squareRoot()) < 1e-9)

        let random = ActorCritic(observationSize: 4, hidden: [8], actions: 2, seed: 9)
        let sampled = try #require(PolicyEvaluator.evaluate(random, envID: "CartPole-v1", episodes: 40, greedy: false, seed: 5))
        #expect(sampled.meanReturn < 60, "a near-uniform policy fails fast: \(sampled.meanReturn)")
    }

    @Test func aPolicyThatDoesNotFitTheEnvironmentIsRefused() {
        let cartPole = leaningPolicy()
        #expect(PolicyEvaluator.evaluate(cartPole, envID: "Acrobot-v1", episodes: 1, greedy: true) == nil)
        #expect(PolicyEvaluator.evaluate(cartPole, envID: "Pendulum-v1", episodes: 1, greedy: true) == nil)
        #expect(PolicyEvaluator.evaluate(cartPole, envID: "NoSuchEnv-v0", episodes: 1, greedy: true) == nil)
        let pendulum = ActorCritic(observationSize: 3, hidden: [4], head: .gaussian(dimensions: 1), seed: 2)
        #expect(PolicyEvaluator.evaluate(pendulum, envID: "Pendulum-v1", episodes: 2, greedy: true)?.episodes.count == 2)
    }
}
