import Domain
import ArgumentParser
import Foundation
import Learner
import Logging
import NeuralNet
import Protocol
import Environments
import Training
import Transport
import Rollout

/// The learner's update exactly as the trainer runs it (`Trainer.step`) — one forward pass over
/// T·B samples and the B bootstrap observations, V-trace targets, policy-gradient + value +
/// entropy loss aggregated, backward, the update guard, Adam — on a synthetic batch shaped like
/// torch_vtrace_bench.py's.
struct LearnerUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "learner-update")
    @Option var obs = 4
    @Option var hidden = 64
    @Option var actions = 2
    @Option(name: .customLong("T")) var t = 32
    @Option(name: .customLong("B")) var b = 64
    @Option var updates = 300
    @Option var warmup = 30
    @Option(help: "OpenBLAS threads (the peer script's --threads).") var threads = 1

    func run() {
        BLASRuntime.selectKernelByReexecuting()
        BLAS.threads = threads
        AllocatorTuning.apply(logger: Logger(label: "bench"))  // as the learner does
        var rng = SplitMix64(seed: 0)
        let n = t * b
        func normal() -> Float {
            // Box–Muller; the values only need to look like observations.
            let u1 = max(rng.nextUnit(), 1e-12), u2 = rng.nextUnit()
            return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
        }
        let observations = (0..<(n * obs)).map { _ in normal() }
        let bootstrap = (0..<(b * obs)).map { _ in normal() }
        let taken = (0..<n).map { _ in Int32(rng.next() % UInt64(actions)) }
        let behaviour = (0..<n).map { _ in -Float(rng.nextUnit() * 1.5) - 0.05 }
        let dones = (0..<n).map { _ in rng.nextUnit() < 0.02 }
        let batch = TrainingBatch(
            timeSteps: t, batch: b, observations: observations, bootstrapObservations: bootstrap, actions: taken,
            behaviourLogp: behaviour, rewards: [Float](repeating: 1, count: n), terminated: dones,
            truncated: [Bool](repeating: false, count: n), finalObservations: [:])
        var settings = TrainerSettings()
        settings.hidden = [hidden, hidden]
        settings.learningRate = 6e-4
        settings.maxGradNorm = .greatestFiniteMagnitude  // the peer does not clip
        settings.entropyCost = 0.01
        var trainer = Trainer(settings: settings, observationSize: obs, head: .categorical(actions: actions))
        let clock = ContinuousClock()
        var times: [Double] = []
        for i in 0..<(warmup + updates) {
            let start = clock.now
            let result = trainer.step(batch)
            if i >= warmup { times.append(seconds(clock.now - start)) }
            precondition(result.applied, "the benchmark's update was skipped: \(result.skip!.detail)")
        }
        let net = trainer.net
        let med = median(times)
        print(String(format: "RESULT tributary learner-update threads=%d core=%@ obs=%d hidden=%d T=%d B=%d params=%d updates=%d: median %.1f upd/s (%.0f samples/s, %.2f ms/upd); best %.1f upd/s; worst %.1f upd/s",
                     BLAS.threads, BLAS.coreName, obs, hidden, t, b, net.network.parameters.count, updates,
                     1 / med, Double(n) / med, med * 1e3, 1 / times.min()!, 1 / times.max()!))
    }
}
