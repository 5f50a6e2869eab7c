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

/// A worker's acting loop without the network: B environment copies, one batched forward pass
/// and sampling per step, the chunk built and encoded to wire frames every T steps.
struct WorkerSteps: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker-steps")
    @Option var env = "CartPole-v1"
    @Option var numEnvs = 16
    @Option var unroll = 32
    @Option var hidden = 64
    @Option var steps = 400_000
    @Option var repeats = 3

    func run() throws {
        BLASRuntime.selectKernelByReexecuting()
        BLAS.threads = 1
        guard var source = EnvironmentSource(envID: env, numEnvs: numEnvs, unrollLength: unroll, seed: 1) else {
            throw ValidationError("unknown or continuous environment '\(env)'")
        }
        let net = ActorCritic(observationSize: Int(source.spec.observationShape[0]), hidden: [hidden, hidden],
                              actions: Int(source.spec.numActions), seed: 1)
        let policy = Policy(version: 1, network: net)
        let chunks = max(1, steps / (numEnvs * unroll))
        var sequence: UInt64 = 0
        var bytes = 0
        func produce(_ count: Int) {
            for _ in 0..<count {
                let frames = source.next(runID: "bench", workerID: "bench", incarnation: 1, sequence: sequence, policy: policy)
                bytes &+= frames.count
                sequence += 1
            }
        }
        produce(max(1, 5000 / (numEnvs * unroll)))  // warm-up
        let clock = ContinuousClock()
        var rates: [Double] = []
        for i in 0..<repeats {
            let start = clock.now
            produce(chunks)
            let dt = seconds(clock.now - start)
            let total = chunks * numEnvs * unroll
            rates.append(Double(total) / dt)
            print(String(format: "worker-steps rep%d: %d steps in %.3fs -> %.0f steps/s", i, total, dt, Double(total) / dt))
        }
        print(String(format: "RESULT tributary worker-steps env=%@ num_envs=%d T=%d hidden=%d core=%@: min %.0f median %.0f max %.0f steps/s (n=%d, reps=%d)",
                     env, numEnvs, unroll, hidden, BLAS.coreName, rates.min()!, median(rates), rates.max()!, chunks * numEnvs * unroll, repeats))
    }
}
