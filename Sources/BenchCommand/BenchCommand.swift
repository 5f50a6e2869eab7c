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

/// `tributary-bench`: the micro-benchmarks that run beside the peers' scripts
/// (`../shared/peers/`) in `Benchmarks/learning/run.sh`. Each prints one `RESULT` line in the
/// peers' format, so the script can put ratios side by side.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-bench",
        abstract: "Micro-benchmarks of the learner update and the worker's acting loop.",
        subcommands: [LearnerUpdate.self, WorkerSteps.self, SessionFlood.self])
}

/// Many worker sessions that only say Hello and heartbeat, from one process: what a flood of
/// idle sessions costs a learner's training (Benchmarks/security/session-flood.sh).
struct SessionFlood: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "session-flood")
    @Option(help: "The learner's data endpoint.") var data: String
    @Option var sessions = 1000
    @Option var seconds = 20.0
    @Option var env = "CartPole-v1"

    func run() async throws {
        var logger = Logger(label: "flood")
        logger.logLevel = .critical
        guard let spec = EnvironmentRegistry.spec(env) else { throw ValidationError("unknown environment \(env)") }
        let reactor = try SocketReactor(name: "flood", logger: logger)
        var sockets: [OpenedSocket] = []
        for i in 0..<sessions {
            var socketSpec = SocketSpec(kind: .dealer)
            socketSpec.connect = [data]
            socketSpec.lingerMilliseconds = 0
            socketSpec.inboxCapacity = 8
            let socket = try await reactor.open(socketSpec)
            var hello = Tributary_V1_Hello()
            hello.protocolVersions = [1]
            hello.workerID = "flood-\(i)"
            hello.incarnation = UInt64(i + 1)
            hello.env = spec.wire(numEnvs: 2)
            reactor.send(socket.id, WireCodec.encode(.hello(hello)))
            sockets.append(socket)
        }
        var welcomed = 0, refused = 0
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var beat = Tributary_V1_Heartbeat()
        while ContinuousClock.now < end {
            beat.unixMs = UInt64(Date().timeIntervalSince1970 * 1000)
            let frames = WireCodec.encode(.heartbeat(beat))
            for s in sockets {
                reactor.send(s.id, frames)
                while let m = s.inbox.tryReceive() {
                    switch try? WireCodec.decode(m.frames).body {
                    case .welcome?: welcomed += 1
                    case .reject?: refused += 1
                    default: break
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        print("RESULT session-flood sessions=\(sessions) welcomed=\(welcomed) refused=\(refused)")
        await reactor.shutdown()
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func seconds(_ d: Duration) -> Double {
    d.inSeconds
}

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
