import Domain
import Environments
import Foundation
import Logging
import NeuralNet
import Experience
import PolicyArtifacts
import Protocol
import Locking
import Training
import Transport

/// How the learner trains: the trainer's own settings (network, optimizer, loss) and the loop's
/// (batch size, stopping rules). `config.training.learningRate` and the like reach the
/// trainer's settings directly.
@dynamicMemberLookup
public struct TrainingSettings: Sendable, Equatable, Codable {
    public var trainer = TrainerSettings()
    /// Environment columns (B) per update: chunks are gathered until they add up to this.
    public var batchColumns = 16
    /// Stop when the mean return of the last 100 episodes reaches this (nil: never).
    public var targetReturn: Double? = nil
    public var maxUpdates: UInt64? = nil

    public init() {}

    /// The correction's name, or a group method's preset name (runs, logs, status).
    public var objectiveName: String { trainer.objectiveName }

    public subscript<T>(dynamicMember keyPath: WritableKeyPath<TrainerSettings, T>) -> T {
        get { trainer[keyPath: keyPath] }
        set { trainer[keyPath: keyPath] = newValue }
    }
}

/// The learner's trainer thread: a thin driver around `Trainer`. It takes [T, B] batches from
/// the experience buffer, has the trainer step on each, publishes the new version, and then
/// releases the batch's fresh chunks (their credits go back). A skipped update (non-finite
/// loss, gradient or parameters) publishes nothing and is counted. Stops (through
/// `limitReached`) when the mean return of the last 100 episodes reaches the target, or after
/// `maxUpdates`.
public final class PolicyTrainer: Sendable {
    let core: LearnerCore
    let store: ExperienceStore
    let logger: Logger
    let settings: TrainingSettings
    let initial: Trainer
    private let done = OneShotSignal()
    /// Set once the target return was reached: how long it took and how many env steps.
    /// `seconds` counts from the trainer's start (the learner being ready); `unixTime` is when.
    public let solved = Mutex<(seconds: Double, steps: UInt64, updates: UInt64, unixTime: Double, meanReturn100: Double)?>(nil)

    let run: RunDirectory?
    let metricsEvery: Int?
    let metricsInterval: Duration
    /// Also receives every logged update's metrics (the Prometheus exporter's gauges).
    let onMetrics: (@Sendable (UpdateMetrics) -> Void)?
    /// A progress log line this often; nil when a progress bar on the terminal shows it instead.
    let logEvery: Duration?

    /// When and where the trainer writes checkpoints, and how one is made from its state.
    public struct Checkpointing: Sendable {
        public var directory: CheckpointDirectory
        public var interval: Duration?
        public var everyUpdates: UInt64?
        /// The checkpoint of the run for a trainer state (counters and accounting as of now).
        public var make: @Sendable (TrainerState) -> Checkpoint
        /// Periodic evaluation of the policy, keeping the best checkpoint (nil: none).
        public var evaluation: Evaluation?

        /// Every `interval`, the policy runs `episodes` whole episodes in the environment it
        /// trains on; the checkpoint of the best mean return so far is `checkpoints/best.ckpt`
        /// and every evaluation a line of `checkpoints/evaluations.jsonl`.
        public struct Evaluation: Sendable {
            public var interval: Duration
            public var episodes: Int
            public var greedy: Bool
            public init(interval: Duration, episodes: Int, greedy: Bool) {
                (self.interval, self.episodes, self.greedy) = (interval, episodes, greedy)
            }
        }

        public init(directory: CheckpointDirectory, interval: Duration?, everyUpdates: UInt64?, evaluation: Evaluation? = nil,
                    make: @escaping @Sendable (TrainerState) -> Checkpoint) {
            self.directory = directory
            self.interval = interval
            self.everyUpdates = everyUpdates
            self.evaluation = evaluation
            self.make = make
        }
    }
    let checkpointing: Checkpointing?
    let envID: String

    /// A trainer for `spec` (a built-in environment or a declared external one). Discrete
    /// action spaces get a categorical head, continuous ones a diagonal Gaussian. With
    /// `resume`, the trainer continues from that state (throws when it does not fit the
    /// environment). Evaluation (in `checkpointing`) needs the environment's code: only for a
    /// built-in one.
    public init(environment spec: EnvSpec, core: LearnerCore, store: ExperienceStore, logger: Logger, settings: TrainingSettings,
                 run: RunDirectory? = nil, metricsEvery: Int? = nil, metricsInterval: Duration = .seconds(1), logEvery: Duration? = .seconds(2),
                 resume: TrainerState? = nil, initialParameters: TrainerState? = nil, checkpointing: Checkpointing? = nil,
                 onMetrics: (@Sendable (UpdateMetrics) -> Void)? = nil) throws {
        let envID = spec.id
        self.envID = envID
        self.checkpointing = checkpointing
        self.core = core
        self.store = store
        self.logger = logger
        self.settings = settings
        self.run = run
        self.metricsEvery = metricsEvery.map { max(1, $0) }
        self.metricsInterval = metricsInterval
        self.logEvery = logEvery
        self.onMetrics = onMetrics
        if let resume {
            guard resume.observationSize == spec.observationSize, PolicyHead(spec.actionSpace) == resume.head.policyHead else {
                throw ConfigError("the checkpoint's network (observations \(resume.observationSize), \(resume.head)) does not fit \(envID)")
            }
            do {
                self.initial = try Trainer(restoring: resume)
            } catch {
                throw ConfigError("the checkpoint's trainer state cannot be restored: \(error)")
            }
        } else if let start = initialParameters {
            guard start.observationSize == spec.observationSize, PolicyHead(spec.actionSpace) == start.head.policyHead,
                  start.settings.hidden == settings.trainer.hidden, start.settings.activation == settings.trainer.activation
            else {
                throw ConfigError("--init-from: the checkpoint's network (observations \(start.observationSize), hidden \(start.settings.hidden) \(start.settings.activation), \(start.head)) is not the one this run builds for \(envID) (hidden \(settings.trainer.hidden) \(settings.trainer.activation))")
            }
            self.initial = Trainer(settings: settings.trainer, observationSize: spec.observationSize, head: PolicyHead(spec.actionSpace),
                                   parameters: start.parameters.values)
        } else {
            self.initial = Trainer(settings: settings.trainer, observationSize: spec.observationSize, head: PolicyHead(spec.actionSpace))
        }
    }

    /// Versions reserved ahead of publishing (see `CheckpointDirectory.reserve`).
    private static let reservationBlock: UInt64 = 1024

    /// Reserves versions past `version` when it is above `reserved`; the new reservation.
    private func reserve(_ version: UInt64, above reserved: UInt64) -> UInt64 {
        guard let checkpointing, version > reserved else { return reserved }
        do {
            try checkpointing.directory.reserve(upTo: version + Self.reservationBlock)
            return version + Self.reservationBlock
        } catch {
            logger.error("could not reserve policy versions: \(error)")
            return reserved
        }
    }

    public func start(limitReached: @escaping @Sendable () -> Void) {
        let firstReservation = reserve(initial.version, above: 0)
        core.publish(WeightsSnapshot(version: initial.version, model: initial.net.modelSpec, bytes: initial.net.parameterBytes))
        let thread = Thread { [self] in
            var trainer = initial
            var reserved = firstReservation
            let started = ContinuousClock.now
            var lastLog = started
            var lastCheckpoint = started
            var lastMetrics = started
            var updatesAtCheckpoint = core.progress.updates
            func checkpoint(_ why: String) {
                guard let checkpointing else { return }
                let c = checkpointing.make(trainer.state)
                do {
                    let url = try checkpointing.directory.write(c)
                    logger.debug("checkpoint (\(why)): version \(c.policyVersion), update \(c.updates), \(url.lastPathComponent)")
                } catch {
                    logger.error("could not write a checkpoint: \(error)")
                }
                lastCheckpoint = .now
                updatesAtCheckpoint = c.updates
            }
            // The best evaluated return so far: a resumed run's best checkpoint still counts.
            var bestReturn = checkpointing.flatMap { try? Checkpoint.load($0.directory.bestFile.path).checkpoint.evaluation?.meanReturn }
            var lastEvaluation = started
            func evaluate(_ evaluation: Checkpointing.Evaluation, _ checkpointing: Checkpointing) {
                lastEvaluation = .now
                var c = checkpointing.make(trainer.state)
                let began = ContinuousClock.now
                guard let result = PolicyEvaluator.evaluate(PolicyEvaluator.network(c.trainer), envID: envID, episodes: evaluation.episodes,
                                                            greedy: evaluation.greedy, seed: c.updates &+ 1) else { return }
                c.evaluation = result
                let isBest = bestReturn.map { result.meanReturn > $0 } ?? true
                if isBest {
                    bestReturn = result.meanReturn
                    do {
                        try checkpointing.directory.writeBest(c)
                    } catch {
                        logger.error("could not write the best checkpoint: \(error)")
                    }
                }
                checkpointing.directory.recordEvaluation(c, best: isBest)
                core.recordEvaluation(meanReturn: result.meanReturn, stdReturn: result.stdReturn, update: c.updates, best: bestReturn)
                run?.events.scalars([("eval/mean_return", result.meanReturn), ("eval/std_return", result.stdReturn)],
                                    step: Int64(clamping: core.counters.stepsReceived))
                logger.info("evaluation at update \(c.updates): mean return \(String(format: "%.1f ± %.1f", result.meanReturn, result.stdReturn)) over \(result.episodes.count) episodes\(isBest ? ", the best so far (checkpoints/best.ckpt)" : "") in \(String(format: "%.2f", (ContinuousClock.now - began).inSeconds)) s")
            }
            /// Finished episodes as CleanRL's `charts/episodic_return` and `charts/episodic_length`.
            func logEpisodes() {
                guard let run else { return }
                for e in core.takeEpisodes() {
                    run.events.scalars([("charts/episodic_return", e.episodeReturn), ("charts/episodic_length", Double(e.length))],
                                       step: Int64(clamping: e.envSteps))
                }
            }
            var stopped = false
            var skipLog = RateLimitedLog()
            // The buffer forms each batch: at least batchColumns columns (an update never
            // grows with the backlog), after dropping what is too stale, in its order.
            while let taken = store.nextBatch(columns: settings.batchColumns, learnerVersion: trainer.version,
                                              onOutcome: { core.released($0) }) {
                // Staleness of every step: the version being trained minus the one that acted.
                let assembled = BatchAssembly.assemble(taken.items, learnerVersion: trainer.version)
                // Fresh chunks are released once the update used them (or skipped them): their
                // credits go back now.
                core.released(taken.outcome)
                if !assembled.discarded.isEmpty {
                    store.discard(taken, indices: assembled.discarded, reason: .nonFinite)
                    skipLog.warning(logger, reason: "non_finite_observations", "\(assembled.discarded.count) chunk(s) with non-finite observations dropped unused: \(assembled.discarded.map { "\(taken.items[$0].chunk.header.workerID) #\(taken.items[$0].chunk.header.sequence)" }.joined(separator: ", "))", now: .now)
                }
                guard let batch = assembled.batch else { continue }
                let lags = assembled.lags
                let result = trainer.step(batch)
                if let skip = result.skip {
                    core.recordSkippedUpdate(reason: skip.reason, detail: skip.detail)
                    skipLog.warning(logger, reason: skip.reason, "update skipped (\(skip.reason)): \(skip.detail); \(taken.items.count) chunk(s) from \(Set(taken.items.map(\.worker)).count) worker(s)", now: .now)
                    continue
                }
                let lagMean = Double(lags.reduce(0, +)) / Double(max(1, lags.count))
                reserved = reserve(trainer.version, above: reserved)
                core.publish(WeightsSnapshot(version: trainer.version, model: trainer.net.modelSpec, bytes: trainer.net.parameterBytes))
                core.recordUpdate(lagMin: lags.min() ?? 0, lagMean: lagMean, lagMax: lags.max() ?? 0,
                                  losses: .init(loss: result.loss, policyLoss: result.policyLoss, valueLoss: result.valueLoss,
                                                entropy: result.entropy, approxKL: result.stats.approxKL, correction: result.stats))
                let returns = core.returns
                let now = ContinuousClock.now
                let update = core.progress.updates
                if let checkpointing {
                    if let every = checkpointing.everyUpdates, update >= updatesAtCheckpoint + every {
                        checkpoint("every \(every) updates")
                    } else if let interval = checkpointing.interval, now - lastCheckpoint >= interval {
                        checkpoint("every \(interval)")
                    }
                    if let evaluation = checkpointing.evaluation, now - lastEvaluation >= evaluation.interval {
                        evaluate(evaluation, checkpointing)
                    }
                }
                // The update that reaches the target or --max-updates also gets its metrics line,
                // so a run shorter than the metrics interval still leaves one.
                let solvedNow = !stopped && settings.targetReturn.map { target in
                    returns.count >= 100 && (returns.mean100 ?? -.infinity) >= target
                } == true
                let finishing = !stopped && (solvedNow || settings.maxUpdates.map { update >= $0 } == true)
                let metricsDue = finishing || (metricsEvery.map { update % UInt64($0) == 0 } ?? (now - lastMetrics >= metricsInterval))
                if run != nil || onMetrics != nil, metricsDue {
                    lastMetrics = now
                    let metrics = UpdateMetrics(
                        update: update, policyVersion: trainer.version, seconds: (now - started).inSeconds,
                        envSteps: core.counters.stepsReceived, episodes: returns.episodes,
                        episodicReturnMean100: returns.mean100, loss: result.loss, policyLoss: result.policyLoss,
                        valueLoss: result.valueLoss, entropy: result.entropy, lagMin: lags.min() ?? 0,
                        lagMean: lagMean, lagMax: lags.max() ?? 0, rhoTruncatedFraction: result.stats.truncatedFraction,
                        correction: trainer.objectiveName, stats: result.stats,
                        chunksReused: taken.previousUses.filter { $0 > 0 }.count, buffer: store.read { $0.accounting })
                    run?.log(metrics)
                    onMetrics?(metrics)
                    logEpisodes()
                }
                if let logEvery, now - lastLog > logEvery {
                    lastLog = now
                    logger.info("update \(update): loss \(String(format: "%.4f", result.loss)), entropy \(String(format: "%.3f", result.entropy)), mean return (last \(returns.count)) \(String(format: "%.1f", returns.mean100 ?? 0)), lag max \(lags.max() ?? 0)")
                }
                if stopped { continue }
                if solvedNow, let target = settings.targetReturn, let mean = returns.mean100 {
                    self.solved.withLock { $0 = ((now - started).inSeconds, core.counters.stepsReceived, update, Date().timeIntervalSince1970, mean) }
                    logger.info("solved: mean return of the last 100 episodes \(String(format: "%.1f", mean)) ≥ \(target)")
                    stopped = true
                    limitReached()
                } else if finishing {
                    stopped = true
                    limitReached()
                }
            }
            checkpoint("the learner stopped")
            logEpisodes()
            if let run {
                do {
                    try run.writeFinal(model: trainer.net.modelSpec, parameters: trainer.net.parameterBytes)
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
}
