import Domain
import Environments
import Foundation
import Logging
import NeuralNet
import Protocol
import Synchronization
import Transport

/// The learner's training loop: on a dedicated thread, takes [T, B] batches from the
/// experience buffer, trains on each with the run's correction (one Adam step on the V-trace
/// objective, or the PPO family's epochs × minibatches), publishes one new version per batch,
/// and then releases the batch's fresh chunks (their credits go back). Stops (through
/// `limitReached`) when the mean return of the last 100 episodes reaches the target, or after
/// `maxUpdates`.
public final class PolicyTrainer: Sendable {
    public struct Settings: Sendable {
        /// Hidden layer sizes of the shared torso.
        public var hidden = [64, 64]
        public var activation = Activation.tanh
        public var learningRate: Float = 3e-3
        public var maxGradNorm: Float = 40
        public var gamma = 0.99
        public var entropyCost: Float = 0.001
        public var baselineCost: Float = 0.5
        /// Rewards are multiplied by this in the loss (episode returns are reported unscaled).
        public var rewardScale = 1.0
        /// Environment columns (B) per update: chunks are gathered until they add up to this.
        public var batchColumns = 16
        /// Stop when the mean return of the last 100 episodes reaches this (nil: never).
        public var targetReturn: Double? = nil
        public var maxUpdates: UInt64? = nil
        public var seed: UInt64 = 1
        /// The off-policy correction and its parameters.
        public var correction = Correction.vtrace
        public var corrections = CorrectionSettings()
        public init() {}
    }

    let core: LearnerCore
    let store: ExperienceStore
    let logger: Logger
    let settings: Settings
    let initial: ActorCritic
    private let done = OneShotSignal()
    /// Set once the target return was reached: how long it took and how many env steps.
    /// `seconds` counts from the trainer's start (the learner being ready); `unixTime` is when.
    public let solved = Mutex<(seconds: Double, steps: UInt64, updates: UInt64, unixTime: Double)?>(nil)

    let run: RunDirectory?
    let metricsEvery: Int
    /// Also receives every logged update's metrics (the Prometheus exporter's gauges).
    let onMetrics: (@Sendable (UpdateMetrics) -> Void)?
    /// A progress log line this often; nil when a progress bar on the terminal shows it instead.
    let logEvery: Duration?

    /// nil when the environment is unknown. Discrete action spaces get a categorical head,
    /// continuous ones a diagonal Gaussian.
    public init?(envID: String, core: LearnerCore, store: ExperienceStore, logger: Logger, settings: Settings,
                 run: RunDirectory? = nil, metricsEvery: Int = 10, logEvery: Duration? = .seconds(2),
                 onMetrics: (@Sendable (UpdateMetrics) -> Void)? = nil) {
        guard let info = EnvironmentRegistry.spec(envID) else { return nil }
        let head: PolicyHead = switch info.actionSpace {
        case .discrete(let n): .categorical(actions: n)
        case .continuous(let d, _, _): .gaussian(dimensions: d)
        }
        self.core = core
        self.store = store
        self.logger = logger
        self.settings = settings
        self.run = run
        self.metricsEvery = max(1, metricsEvery)
        self.logEvery = logEvery
        self.onMetrics = onMetrics
        self.initial = ActorCritic(observationSize: info.observationSize, hidden: settings.hidden, head: head,
                                   activation: settings.activation, seed: settings.seed)
    }

    public func start(limitReached: @escaping @Sendable () -> Void) {
        core.publish(WeightsSnapshot(version: 1, model: initial.modelSpec, bytes: initial.parameterBytes))
        let thread = Thread { [self, core, store, logger, settings, done, initial, run, metricsEvery, logEvery, onMetrics] in
            var net = initial
            var adam = Adam(parameterCount: net.network.parameters.count, learningRate: settings.learningRate,
                            maxGradNorm: settings.maxGradNorm)
            var objective = VTraceObjective()
            objective.gamma = settings.gamma
            objective.entropyCost = settings.entropyCost
            objective.baselineCost = settings.baselineCost
            objective.rewardScale = settings.rewardScale
            objective.vtrace = settings.corrections.vtrace
            var family: PPOFamilyObjective?
            if settings.correction.usesEpochs {
                var f = PPOFamilyObjective(correction: settings.correction)
                f.settings = settings.corrections
                f.gamma = settings.gamma
                f.rewardScale = settings.rewardScale
                f.baselineCost = settings.baselineCost
                f.entropyCost = settings.entropyCost
                family = f
            }
            var target: ActorCritic?  // appo's target network
            var shuffle = SplitMix64(seed: settings.seed ^ 0x9E37_79B9)
            var version: UInt64 = 1
            let started = ContinuousClock.now
            var lastLog = started
            var stopped = false
            var skipLog = RateLimitedLog()
            /// The parameters of the newest published version: what a skipped update returns to.
            var published = net.parameterBytes
            // The buffer forms each batch: at least batchColumns columns (an update never
            // grows with the backlog), after dropping what is too stale, in its order.
            while let taken = store.nextBatch(columns: settings.batchColumns, learnerVersion: version,
                                              onOutcome: { core.released($0) }) {
                let chunks = taken.items
                // Staleness of every step: the version being trained minus the one that acted.
                let (batch, lags) = Self.assemble(chunks, learnerVersion: version)
                let lagMean = Double(lags.reduce(0, +)) / Double(max(1, lags.count))
                var skip: UpdateGuard.Skip?
                let evaluation: VTraceObjective.Evaluation
                if let family {
                    // The PPO family: prepared once with the proximal parameters, then
                    // epochs × minibatches of whole columns, a new version after the batch.
                    if settings.correction == .appo, (version - 1) % UInt64(max(1, settings.corrections.targetUpdateEvery)) == 0 {
                        target = net
                    }
                    let prepared = family.prepare(net, batch, target: target)
                    let parts = max(1, min(settings.corrections.minibatches, batch.batch))
                    var last: VTraceObjective.Evaluation?
                    steps: for _ in 0..<max(1, settings.corrections.epochs) {
                        var order = Array(0..<batch.batch)
                        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(shuffle.next() % UInt64(i + 1))) }
                        for m in 0..<parts {
                            let columns = stride(from: m, to: order.count, by: parts).map { order[$0] }.sorted()
                            let e = family.evaluate(net, batch, prepared, columns: columns)
                            last = e
                            if let bad = UpdateGuard.check(loss: e.loss, gradient: e.gradient) {
                                skip = bad
                                break steps
                            }
                            adam.update(&net.network.parameters, gradient: e.gradient)
                        }
                    }
                    evaluation = last!
                } else {
                    evaluation = objective.evaluate(net, batch)
                    skip = UpdateGuard.check(loss: evaluation.loss, gradient: evaluation.gradient)
                    if skip == nil { adam.update(&net.network.parameters, gradient: evaluation.gradient) }
                }
                if skip == nil, !allFinite(net.network.parameters) {
                    skip = .init(reason: "non_finite_parameters", detail: "the step made a parameter NaN or infinite")
                }
                if let skip {
                    // Nothing of this batch reaches the weights: back to the last published
                    // parameters (minibatches of it may have been applied), no new version; its
                    // chunks are still released (their credits go back).
                    published.withUnsafeBytes { raw in
                        for i in net.network.parameters.indices {
                            net.network.parameters[i] = raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
                        }
                    }
                    core.released(taken.outcome)
                    core.recordSkippedUpdate(reason: skip.reason, detail: skip.detail)
                    skipLog.warning(logger, reason: skip.reason, "update skipped (\(skip.reason)): \(skip.detail); \(chunks.count) chunk(s) from \(Set(chunks.map(\.worker)).count) worker(s)", now: .now)
                    continue
                }
                version += 1
                // Fresh chunks are released once the update used them: their credits go back now.
                core.released(taken.outcome)
                published = net.parameterBytes
                core.publish(WeightsSnapshot(version: version, model: net.modelSpec, bytes: published))
                core.recordUpdate(lagMin: lags.min() ?? 0, lagMean: lagMean, lagMax: lags.max() ?? 0)
                let returns = core.returns
                let now = ContinuousClock.now
                if run != nil || onMetrics != nil, (version - 1) % UInt64(metricsEvery) == 0 {
                    let elapsed = now - started
                    let metrics = UpdateMetrics(
                        update: version - 1, policyVersion: version, seconds: elapsed.inSeconds,
                        envSteps: core.counters.stepsReceived, episodes: returns.episodes,
                        episodicReturnMean100: returns.mean100, loss: evaluation.loss, policyLoss: evaluation.policyLoss,
                        valueLoss: evaluation.valueLoss, entropy: evaluation.entropy, lagMin: lags.min() ?? 0,
                        lagMean: lagMean, lagMax: lags.max() ?? 0, rhoTruncatedFraction: evaluation.truncatedRhoFraction,
                        correction: settings.correction.name, stats: evaluation.stats,
                        chunksReused: taken.previousUses.filter { $0 > 0 }.count, buffer: store.read { $0.accounting })
                    run?.log(metrics)
                    onMetrics?(metrics)
                }
                if let logEvery, now - lastLog > logEvery {
                    lastLog = now
                    logger.info("update \(version - 1): loss \(String(format: "%.4f", evaluation.loss)), entropy \(String(format: "%.3f", evaluation.entropy)), mean return (last \(returns.count)) \(String(format: "%.1f", returns.mean100 ?? 0)), lag max \(lags.max() ?? 0)")
                }
                if stopped { continue }
                if let target = settings.targetReturn, returns.count >= 100, let mean = returns.mean100, mean >= target {
                    let elapsed = now - started
                    self.solved.withLock { $0 = (elapsed.inSeconds, core.counters.stepsReceived, version - 1, Date().timeIntervalSince1970) }
                    logger.info("solved: mean return of the last 100 episodes \(String(format: "%.1f", mean)) ≥ \(target)")
                    stopped = true
                    limitReached()
                } else if let max = settings.maxUpdates, version - 1 >= max {
                    stopped = true
                    limitReached()
                }
            }
            if let run {
                do {
                    try run.writeFinal(model: net.modelSpec, parameters: net.parameterBytes)
                } catch {
                    logger.error("could not write the final parameters to \(run.url.path): \(error)")
                }
            }
            done.signal()
        }
        thread.name = "trainer"
        thread.start()
    }

    public func join() async { await done.wait() }

    /// Concatenates chunks along B into one [T, ΣB] batch, and the version lag of every step
    /// (`learnerVersion` minus the step's behaviour version).
    public static func assemble(_ chunks: [QueuedChunk], learnerVersion: UInt64) -> (TrainingBatch, [UInt64]) {
        let t = Int(chunks[0].chunk.header.length)
        let total = chunks.reduce(0) { $0 + Int($1.chunk.header.numEnvs) }
        let d = chunks[0].chunk.observations.shape.last ?? 1
        var obs = [Float](repeating: 0, count: t * total * d)
        var bootstrap = [Float](repeating: 0, count: total * d)
        var actions = [Int32](repeating: 0, count: t * total)
        // Continuous actions [T, ΣB, d]; d = 0 for discrete action spaces.
        let actionWidth = chunks[0].chunk.actions.dtype == .float32 ? (chunks[0].chunk.actions.shape.last ?? 1) : 0
        var continuous = [Float](repeating: 0, count: t * total * actionWidth)
        var logp = [Float](repeating: 0, count: t * total)
        var rewards = [Float](repeating: 0, count: t * total)
        var terminated = [Bool](repeating: false, count: t * total)
        var truncated = [Bool](repeating: false, count: t * total)
        var finals: [Int: [Float]] = [:]
        var lags: [UInt64] = []
        var offset = 0
        for q in chunks {
            let c = q.chunk
            let b = Int(c.header.numEnvs)
            c.observations.withUnsafeBytes { raw in
                for s in 0..<t {
                    for e in 0..<b {
                        for k in 0..<d {
                            obs[((s * total) + offset + e) * d + k] = raw.loadUnaligned(fromByteOffset: ((s * b + e) * d + k) * 4, as: Float.self)
                        }
                    }
                }
            }
            c.bootstrapObservation.withUnsafeBytes { raw in
                for e in 0..<b {
                    for k in 0..<d { bootstrap[(offset + e) * d + k] = raw.loadUnaligned(fromByteOffset: (e * d + k) * 4, as: Float.self) }
                }
            }
            c.actions.withUnsafeBytes { a in
                c.behaviourLogp.withUnsafeBytes { l in
                    c.rewards.withUnsafeBytes { r in
                        c.terminated.withUnsafeBytes { term in
                            c.truncated.withUnsafeBytes { trunc in
                                for s in 0..<t {
                                    for e in 0..<b {
                                        let src = s * b + e
                                        let dst = s * total + offset + e
                                        if actionWidth == 0 {
                                            actions[dst] = a.loadUnaligned(fromByteOffset: src * 4, as: Int32.self)
                                        } else {
                                            for k in 0..<actionWidth {
                                                continuous[dst * actionWidth + k] = a.loadUnaligned(fromByteOffset: (src * actionWidth + k) * 4, as: Float.self)
                                            }
                                        }
                                        logp[dst] = l.loadUnaligned(fromByteOffset: src * 4, as: Float.self)
                                        rewards[dst] = r.loadUnaligned(fromByteOffset: src * 4, as: Float.self)
                                        terminated[dst] = term[src] == 1
                                        truncated[dst] = trunc[src] == 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let index = c.finalObservationIndex, let values = c.finalObservations {
                index.withUnsafeBytes { idx in
                    values.withUnsafeBytes { v in
                        for j in 0..<(index.elementCount / 2) {
                            let s = Int(idx.loadUnaligned(fromByteOffset: j * 8, as: Int32.self))
                            let e = Int(idx.loadUnaligned(fromByteOffset: j * 8 + 4, as: Int32.self))
                            finals[s * total + offset + e] = (0..<d).map { v.loadUnaligned(fromByteOffset: (j * d + $0) * 4, as: Float.self) }
                        }
                    }
                }
            }
            lags += q.stepVersions.map { learnerVersion - min(learnerVersion, $0) }
            offset += b
        }
        let batch = TrainingBatch(timeSteps: t, batch: total, observations: obs, bootstrapObservations: bootstrap, actions: actions,
                                  behaviourLogp: logp, rewards: rewards, terminated: terminated, truncated: truncated, finalObservations: finals,
                                  continuousActions: continuous)
        return (batch, lags)
    }
}
