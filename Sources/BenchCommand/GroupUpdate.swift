import ArgumentParser
import Domain
import Environments
import Foundation
import Learner
import Logging
import NeuralNet
import Training

/// The seed paper's update in miniature (issue 15): `addrev`, the MLP 256-256 ReLU, P prompts ×
/// K answers sampled token by token from the trainer's own network (one batched forward pass per
/// token, as `GroupedSequenceSource` does), then one `Trainer.step` with a group method. Times the
/// sampling and the update separately, beside `Benchmarks/peers/torch_group_bench.py`.
struct GroupUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "group-update")
    @Option var prompts = 64
    @Option var k = 8
    @Option var hidden = 256
    @Option var preset = "grpo"
    @Option var updates = 300
    @Option var warmup = 30
    @Option(help: "OpenBLAS threads.") var threads = 1

    func run() throws {
        BLASRuntime.selectKernelByReexecuting()
        BLAS.threads = threads
        AllocatorTuning.apply(logger: Logger(label: "bench"))
        guard let method = GroupMethod.preset(preset) else { throw ValidationError("unknown preset \(preset)") }
        let task = AddReversed.self
        var settings = TrainerSettings()
        settings.hidden = [hidden, hidden]
        settings.activation = .relu
        settings.learningRate = 1e-3
        settings.entropyCost = 0.01
        settings.gamma = 1
        settings.correction = .group
        settings.corrections.group = method
        settings.aggregation = .tokenMean
        var trainer = Trainer(settings: settings, observationSize: task.observationSize, head: .categorical(actions: task.vocabulary))
        var rng = SplitMix64(seed: 1)
        let clock = ContinuousClock()
        var sampleTimes: [Double] = [], updateTimes: [Double] = []
        var success = 0.0
        for i in 0..<(warmup + updates) {
            let s0 = clock.now
            let (batch, rate) = Self.sample(trainer.net, prompts: prompts, k: k, rng: &rng)
            let s1 = clock.now
            let result = trainer.step(batch)
            let s2 = clock.now
            precondition(result.applied, "the benchmark's update was skipped")
            success = rate
            if i >= warmup {
                sampleTimes.append(seconds(s1 - s0))
                updateTimes.append(seconds(s2 - s1))
            }
        }
        let (ms, mu) = (median(sampleTimes) * 1e3, median(updateTimes) * 1e3)
        print(String(format: "RESULT tributary group-update preset=%@ threads=%d core=%@ prompts=%d K=%d tokens=%d params=%d updates=%d: median update %.3f ms, sampling %.3f ms, both %.3f ms; final success %.2f",
                     preset, BLAS.threads, BLAS.coreName, prompts, k, task.answerLength, trainer.net.network.parameters.count, updates,
                     mu, ms, mu + ms, success))
    }

    /// Answers to `prompts` random prompts, K each, as a [L, prompts·K] batch with one group per prompt.
    static func sample(_ net: ActorCritic, prompts: Int, k: Int, rng: inout SplitMix64) -> (TrainingBatch, Double) {
        let task = AddReversed.self
        let b = prompts * k, d = task.observationSize, l = task.answerLength
        let chosen = (0..<prompts).map { _ in task.prompt(Int(rng.next() % UInt64(task.promptCount))) }
        var answers = [[Int]](repeating: [], count: b)
        var obs: [Float] = [], actions: [Int32] = [], logp: [Float] = []
        obs.reserveCapacity(l * b * d)
        for t in 0..<l {
            var input = [Float](repeating: 0, count: b * d)
            for r in 0..<b { task.encode(prompt: chosen[r / k], answer: answers[r], position: t, into: &input, at: r * d) }
            let (a, lp) = net.act(input, rows: b, using: &rng)
            for r in 0..<b { answers[r].append(Int(a[r])) }
            obs += input
            actions += a.map { Int32($0) }
            logp += lp
        }
        let correct = (0..<b).map { task.isCorrect(prompt: chosen[$0 / k], answer: answers[$0]) }
        let rewards = (0..<(l * b)).map { i in i / b == l - 1 && correct[i % b] ? Float(1) : 0 }
        let batch = TrainingBatch(timeSteps: l, batch: b, observations: obs, bootstrapObservations: [Float](repeating: 0, count: b * d),
                                  actions: actions, behaviourLogp: logp, rewards: rewards,
                                  terminated: (0..<(l * b)).map { $0 / b == l - 1 }, truncated: [Bool](repeating: false, count: l * b),
                                  finalObservations: [:], groupIDs: (0..<b).map { UInt64($0 / k) })
        return (batch, Double(correct.filter { $0 }.count) / Double(b))
    }
}
