import ArgumentParser
import Domain
import Environments
import Foundation
import Learner
import Rollout
import Logging
import NeuralNet
import Training

/// The seed paper's update in miniature (issue 15): `addrev`, the MLP 256-256 ReLU, P prompts ×
/// K answers sampled token by token from the trainer's own network (one batched forward pass per
/// token, `SequenceSampler`, as workers do), then one `Trainer.step` with a group method. Times the
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
    @Flag(inversion: .prefixedNo, help: "Run the network once per distinct input row (the default; --no-distinct-rows: once per row, as the torch peer does).")
    var distinctRows = true

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
        var sampleTimes: [Double] = [], updateTimes: [Double] = [], distinctFraction: [Double] = []
        var success = 0.0
        for i in 0..<(warmup + updates) {
            let s0 = clock.now
            let a = SequenceSampler.sample(task, net: trainer.net, prompts: prompts, k: k, distinctRows: distinctRows, using: &rng)
            var batch = TrainingBatch.answers(observations: a.observations, tokens: a.tokens, logp: a.logp, correct: a.correct, groupSize: k)
            batch.distinctRows = distinctRows
            let s1 = clock.now
            let result = trainer.step(batch)
            let s2 = clock.now
            distinctFraction.append(Double(DistinctRows(batch.observations, rows: batch.samples, width: task.observationSize, keepBelow: 1.01)?.count ?? batch.samples) / Double(batch.samples))
            precondition(result.applied, "the benchmark's update was skipped")
            success = a.successRate
            if i >= warmup {
                sampleTimes.append(seconds(s1 - s0))
                updateTimes.append(seconds(s2 - s1))
            }
        }
        let (ms, mu) = (median(sampleTimes) * 1e3, median(updateTimes) * 1e3)
        print(String(format: "RESULT tributary group-update preset=%@ threads=%d core=%@ distinct-rows=%@ prompts=%d K=%d tokens=%d params=%d updates=%d: median update %.3f ms, sampling %.3f ms, both %.3f ms; final success %.2f; distinct rows %.0f%% (median)",
                     preset, BLAS.threads, BLAS.coreName, distinctRows ? "yes" : "no", prompts, k, task.answerLength, trainer.net.network.parameters.count, updates,
                     mu, ms, mu + ms, success, 100 * median(distinctFraction)))
    }
}
