import Events
import Foundation
import Logging
import NeuralNet
import Locking
import Protocol
import ServiceLifecycle
import Telemetry
import Training
import Transport
import UnixSignals
import SafeIO

/// What a running learner tells its executable (printed as JSON lines on stdout).
public enum LearnerEvent: Sendable {
    /// Sockets are bound; endpoints are the resolved ones (ephemeral ports filled in).
    case ready(LearnerReady)
    /// The trainer published a policy version (only with `traceVersions`).
    case published(LearnerPublished)
    /// The run ended; the final status (every counter, every worker).
    case summary(LearnerSummary)

    /// One JSON object per event, for stdout (scripts and tests read these lines).
    public var jsonLine: String {
        switch self {
        case .ready(let event): EventLine.encode(event)
        case .published(let event): EventLine.encode(event)
        case .summary(let event): EventLine.encode(event)
        }
    }
}

/// The learner process: sockets, protocol core, trainer thread, timers.
///
/// Runs until graceful shutdown (SIGTERM/SIGINT through the `ServiceGroup`) or until
/// `maxChunks` were consumed; then stops admitting, lets the trainer drain, reports the
/// summary and closes every socket with LINGER set.
public struct LearnerService: Service {
    let config: LearnerConfig
    let logger: Logger
    let events: @Sendable (LearnerEvent) -> Void

    /// Started once the sockets are bound, on the learner's own socket thread (whose context
    /// serves inproc://): the in-process workers of `learner --local-workers`. Cancelled, and
    /// awaited, before the learner stops taking chunks.
    let inProcessWorkers: (@Sendable (SocketReactor) async -> Void)?

    /// A run already resolved by `LearnerService.resume` (nil: resolved in `run` when the
    /// configuration asks to resume).
    let resumed: Checkpoint?

    /// The run directory's config.yaml, given the endpoints actually bound: the settings that
    /// repeat this run (`learner --config RUN_DIR/config.yaml`). nil writes none.
    let repeatableConfig: (@Sendable (LearnerReady) -> String)?
    /// A `published` event for every policy version.
    let traceVersions: Bool

    public init(config: LearnerConfig, logger: Logger, resumed: Checkpoint? = nil,
                inProcessWorkers: (@Sendable (SocketReactor) async -> Void)? = nil,
                repeatableConfig: (@Sendable (LearnerReady) -> String)? = nil,
                traceVersions: Bool = false,
                events: @escaping @Sendable (LearnerEvent) -> Void) {
        self.traceVersions = traceVersions
        self.config = config
        self.resumed = resumed
        self.repeatableConfig = repeatableConfig
        self.logger = logger
        self.inProcessWorkers = inProcessWorkers
        self.events = events
    }

    public func run() async throws {
        var config = self.config
        try config.validate()
        var resumed = self.resumed
        if config.resumeRunDirectory != nil, resumed == nil {
            (config, resumed) = try Self.resume(config, logger: logger)
        }
        var initialParameters: TrainerState?
        if let path = config.initFrom {
            do throws(CheckpointError) {
                let (checkpoint, url) = try Checkpoint.load(path)
                initialParameters = checkpoint.trainer
                logger.info("starting from the policy of \(url.path) (run \(checkpoint.runID), update \(checkpoint.updates), version \(checkpoint.policyVersion))")
            } catch {
                throw ConfigError("--init-from \(path): \(error.description)")
            }
        }
        if config.curve == nil, config.insecure, !config.bindsOnlyLoopback {
            logger.warning("--insecure: plaintext on \(config.nonLoopbackEndpoints.joined(separator: ", ")); anyone who reaches these ports can send data, read the weights and the status (docs/security.md)")
        }
        // With CURVE the learner's own secret key and the keys it lets in; a bad key file is a
        // one-line error before any socket is bound.
        var secretKey: String?
        var access = AccessControl.open
        if let curve = config.curve {
            do throws(KeyFileError) {
                secretKey = try CurveKeyPair.load(curve.secretKeyFile, requireSecret: true).secretKey
                access = AccessControl(ring: try KeyRing.load(curve.allowKeys), source: curve.allowKeys)
            } catch {
                throw ConfigError(error.description)
            }
            guard CurveKeyPair.isAvailable else { throw ConfigError("this libzmq was built without CURVE (libsodium)") }
            logger.info("CURVE on every socket; \(access.enrolledCount) key(s) enrolled from \(curve.allowKeys)")
        }
        AllocatorTuning.apply(logger: logger)
        let enforced = access
        var authenticator: (@Sendable (ZAPRequest) -> ZAPDecision)?
        if config.curve != nil { authenticator = { @Sendable request in enforced.decide(request) } }
        let reactor = try SocketReactor(name: "learner", logger: logger, authenticator: authenticator)
        do {
            try await serve(reactor, config: config, resumed: resumed, initialParameters: initialParameters, secretKey: secretKey, access: access)
        } catch {
            await reactor.shutdown()
            throw error
        }
        await reactor.shutdown()
    }

    /// `--resume`: the run's configuration (`LearnerConfig.resuming`) and its newest intact
    /// checkpoint, its version moved above every version the previous learner may have
    /// published. A refused (corrupt, truncated) newer checkpoint is logged and skipped.
    public static func resume(_ config: LearnerConfig, logger: Logger) throws(ConfigError) -> (LearnerConfig, Checkpoint) {
        guard let dir = config.resumeRunDirectory else { throw ConfigError("nothing to resume") }
        let runDirectory = URL(fileURLWithPath: dir)
        let checkpoints = CheckpointDirectory(run: runDirectory)
        do throws(CheckpointError) {
            let (checkpoint, url, refused) = try checkpoints.latest()
            for reason in refused { logger.warning("checkpoint refused: \(reason); using an older one") }
            let resolved = config.resuming(checkpoint, runDirectory: runDirectory)
            var carried = checkpoint
            let reserved = checkpoints.reservedVersion() ?? 0
            if reserved >= carried.trainer.version { carried.trainer.version = reserved + 1 }
            logger.info("resuming run \(checkpoint.runID) from \(url.lastPathComponent): update \(checkpoint.updates), version \(checkpoint.policyVersion) → \(carried.trainer.version)")
            do throws(ConfigError) {
                try resolved.validate()
            } catch {
                throw CheckpointError("the checkpoint's configuration: \(error.description)")
            }
            return (resolved, carried)
        } catch {
            throw ConfigError("cannot resume \(dir): \(error.description)")
        }
    }

    private func serve(_ reactor: SocketReactor, config: LearnerConfig, resumed: Checkpoint?, initialParameters: TrainerState?,
                       secretKey: String?, access: AccessControl) async throws {
        // The core is created first and handed to the data socket's handler, which runs on
        // the socket thread: decode, validate and admit without a thread hop per chunk.
        let store = ExperienceStore(policy: config.buffer.policy)
        let routes = RouteTable()
        let events = self.events
        let onPublish: (@Sendable (UInt64) -> Void)? = traceVersions
            ? { @Sendable version in events(.published(LearnerPublished(version: version, unixTime: Date().timeIntervalSince1970))) }
            : nil
        let core = LearnerCore(config: config, logger: logger, store: store, access: access, onPublish: onPublish) { route, frames in
            routes.send(route, frames, via: reactor)
        }
        if let resumed {
            core.restoreProgress(from: resumed)
            store.carryOver(resumed.accounting)
        }
        func security(_ domain: String) -> SocketSpec.Security {
            secretKey.map { .curveServer(secretKey: $0, domain: domain) } ?? .plaintext
        }
        var pubSpec = SocketSpec(kind: .publisher)
        pubSpec.bind = config.weightsEndpoints
        pubSpec.security = security("weights")
        /// A socket bound, or a one-line error naming the flags that choose its address.
        func bind(_ spec: SocketSpec, _ flags: String) async throws -> OpenedSocket {
            do {
                return try await reactor.open(spec)
            } catch {
                throw ConfigError("cannot bind \(spec.bind.joined(separator: ", ")): \(error); choose another with \(flags)")
            }
        }
        let pub = try await bind(pubSpec, "--weights-port or --weights")
        var controlSpec = SocketSpec(kind: .router)
        controlSpec.bind = config.controlEndpoints
        controlSpec.maxFrameBytes = 1 << 20
        controlSpec.inboxBytes = 16 << 20
        controlSpec.security = security("control")
        controlSpec.onEvent = { _, event in core.recordTransport(event, socket: "control") }
        let control = try await bind(controlSpec, "--control-port or --control")
        routes.set(control: control.id, publish: pub.id)
        var dataSpec = SocketSpec(kind: .router)
        dataSpec.bind = config.dataEndpoints
        dataSpec.maxFrameBytes = Int64(config.maxMessageBytes)
        dataSpec.security = security("data")
        dataSpec.onEvent = { _, event in core.recordTransport(event, socket: "data") }
        dataSpec.handler = { id, batch in
            routes.set(data: id)
            core.handleData(batch.compactMap(LearnerCore.DataMessage.init))
        }
        let data = try await bind(dataSpec, "--data-port or --data")

        // Prometheus /metrics, brought up to date from the status reply at every scrape.
        let metrics = LearnerMetrics()
        var metricsServer: MetricsServer?
        if let endpoint = config.metrics {
            do {
            metricsServer = try await MetricsServer(host: endpoint.host, port: endpoint.port, render: {
                metrics.update(from: core.status(includeWorkers: false))
                return metrics.exposition()
            }, health: {
                let s = core.status(includeWorkers: false)
                var fields: [String: MetricsServer.Field] = [
                    "run_id": .text(s.runID), "policy_version": .number(Double(s.policyVersion)), "uptime_s": .number(Double(s.uptimeMs) / 1000),
                    "workers_connected": .number(Double(s.workersConnected)), "state": .text(s.health),
                ]
                if !s.healthReason.isEmpty { fields["reason"] = .text(s.healthReason) }
                return .init(healthy: s.health == "ok", fields: fields)
            })
            } catch {
                throw ConfigError("cannot serve /metrics on \(endpoint.host):\(endpoint.port): \(error); choose another with --metrics-port (0: any free port) or --metrics-bind, or pass --no-metrics")
            }
        }
        logger.info("learner \(core.runID) listening: data \(data.boundEndpoints), weights \(pub.boundEndpoints), control \(control.boundEndpoints)\(metricsServer.map { ", metrics \($0.url)/metrics" } ?? "")")
        // `ready` goes out last, once nothing of the start-up can fail any more.
        let ready = LearnerReady(runID: core.runID, data: data.boundEndpoints, weights: pub.boundEndpoints, control: control.boundEndpoints,
                                 metrics: metricsServer?.url)

        let limit = Mailbox<Bool>(capacity: 1)
        let trainer: any TrainerThread
        if config.envID == "synthetic" {
            trainer = StandInTrainer(core: core, store: store, logger: logger)
        } else {
            BLAS.threads = config.blasThreads
            logger.info("training \(config.envID) with \(config.training.objectiveName); OpenBLAS core \(BLAS.coreName), \(config.blasThreads) thread(s)")
            if !BLASRuntime.selfCheck() {
                logger.error("OpenBLAS core \(BLAS.coreName) disagrees with a plain matrix product: training would be wrong; set \(BLASRuntime.variable) to another core (e.g. Haswell) and restart")
            }
            let run = try config.runsRoot.map {
                var bound = config
                (bound.dataEndpoints, bound.weightsEndpoints, bound.controlEndpoints) = (ready.data, ready.weights, ready.control)
                let files = resumed == nil ? repeatableConfig.map { ["config.yaml": Data($0(ready).utf8)] } ?? [:] : [:]
                do {
                    return try RunDirectory(root: $0, runID: core.runID, config: bound.describe(runID: core.runID), resuming: resumed != nil, files: files)
                } catch {
                    throw ConfigError("cannot write the run directory \($0)/\(core.runID) (--runs): \(RunDirectory.why($0, error))")
                }
            }
            if let run { logger.info("run directory \(run.url.path)") }
            // Evaluating runs the environment, which an external one has only in its workers.
            let evaluation = config.externalEnvironment == nil ? config.evaluation : nil
            if config.externalEnvironment != nil, config.evaluation != nil {
                logger.info("no evaluation: \(config.envID) is declared (--observation-shape, --action-space), its code runs only in the workers; the mean return comes from their episode statistics and there is no best.ckpt")
            }
            let checkpointing = run.map { run in
                PolicyTrainer.Checkpointing(directory: run.checkpoints(keep: config.keepCheckpoints), interval: config.checkpointInterval,
                                            everyUpdates: config.checkpointEveryUpdates,
                                            evaluation: evaluation.map { .init(interval: $0.interval, episodes: $0.episodes, greedy: $0.greedy) }) { state in
                    let progress = core.progress
                    return Checkpoint(runID: core.runID, trainer: state, updates: progress.updates, episodes: progress.episodes,
                                      counters: core.counters, accounting: store.read { $0.accounting }, config: config)
                }
            }
            trainer = try PolicyTrainer(environment: core.environment, core: core, store: store, logger: logger, settings: config.training,
                                    run: run, metricsEvery: config.metricsEvery, metricsInterval: config.metricsInterval ?? .seconds(1), logEvery: config.progressBar ? nil : .seconds(2),
                                    resume: resumed?.trainer, initialParameters: initialParameters, checkpointing: checkpointing,
                                    onMetrics: { m in
                                        // The gauges are named after the metrics.jsonl keys.
                                        metrics.record(update: m.json.compactMap { key, value in (value as? Double).map { (key, $0) } },
                                                       correction: m.correction)
                                    })
        }
        events(.ready(ready))
        trainer.start { _ = limit.offer(true) }
        let local = inProcessWorkers.map { workers in Task { await workers(reactor) } }

        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while case .message(let m) = await control.inbox.receive() {
                    guard let identity = m.frames.first else { continue }
                    core.handleControl(from: identity.bytes, frames: Array(m.frames.dropFirst()), truncated: m.truncated,
                                       peer: PeerIdentity(address: m.peerAddress, keyName: m.userID))
                }
            }
            if access.isEnforcing {
                // SIGHUP reloads --allow-keys: new keys may connect, removed ones are revoked.
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        do throws(KeyFileError) {
                            let revoked = try access.reload()
                            logger.info("SIGHUP: \(access.enrolledCount) key(s) enrolled\(revoked.isEmpty ? "" : "; revoked \(revoked.joined(separator: ", "))")")
                            core.revoke(keyNames: revoked)
                        } catch {
                            logger.error("SIGHUP: keeping the old keys: \(error)")
                        }
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: config.heartbeatInterval / 2)
                    core.tick()
                }
            }
            group.addTask { try? await gracefulShutdown() }
            if config.progressBar {
                group.addTask { await Self.showProgress(core: core, config: config) }
            }
            group.addTask { _ = await limit.receive() }
            await group.next()
            group.cancelAll()
        }
        // In-process workers say Goodbye while the learner still answers.
        local?.cancel()
        await local?.value
        logger.info("learner stopping: no new chunks; the trainer drains what it holds")
        core.beginStopping()
        store.close()
        await trainer.join()
        // What is still buffered was never trained: counted as dropped (shutdown).
        core.released(store.drain())
        // Chunks still arriving (sent with the last credits) are answered with
        // CODE_SHUTTING_DOWN by the data handler rather than left unread: their senders learn
        // at once that they must reconnect, and the chunks are counted. Until 50 ms of
        // quiet, at most 500 ms.
        let graceEnd = ContinuousClock.now + .milliseconds(500)
        var seen = core.counters.messagesReceived
        while ContinuousClock.now < graceEnd {
            try? await Task.sleep(for: .milliseconds(50))
            let now = core.counters.messagesReceived
            if now == seen { break }
            seen = now
        }
        await metricsServer?.stop()
        let solved = (trainer as? PolicyTrainer)?.solved.withLock { $0 }.map {
            LearnerSummary.Solved(seconds: $0.seconds, steps: $0.steps, updates: $0.updates, unixTime: $0.unixTime, meanReturn100: $0.meanReturn100)
        }
        events(.summary(LearnerSummary(ingestSeconds: core.ingestDuration?.inSeconds ?? 0, solved: solved,
                                       runDirectory: (trainer as? PolicyTrainer)?.run?.url.path, status: core.status(),
                                       transport: TransportTotals(reactor.currentStats))))
    }
}

extension LearnerService {
    /// The progress bar on a terminal (stderr): towards --max-updates, or the target return
    /// from where the mean return started; otherwise the rates alone.
    static func showProgress(core: LearnerCore, config: LearnerConfig) async {
        var line = ProgressLine(isTerminal: true)
        var toTarget = config.training.targetReturn.map { ReturnProgress(target: $0) }
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(250))
            let s = core.status(includeWorkers: false)
            var fraction: Double?
            if let max = config.training.maxUpdates, max > 0 {
                fraction = Double(s.updates) / Double(max)
            } else {
                fraction = toTarget?.fraction(meanReturn: s.meanReturn100, episodes: s.episodes)
            }
            let detail = String(format: "return %@  version %llu  lag %.1f  workers %u",
                                s.episodes > 0 ? String(format: "%.1f", s.meanReturn100) : "–", s.policyVersion, s.lagMean, s.workersConnected)
            let rate = String(format: "%.0f steps/s  %.1f updates/s", s.envStepsPerSecond, s.updatesPerSecond)
            if let text = line.render(fraction: fraction, rate: rate, detail: detail) {
                StandardStream.error.write(text)
            }
        }
        StandardStream.error.write("\n")
    }
}

/// Which socket each of the core's routes leaves by. The data socket's id is recorded by its
/// own handler, so a Welcome can go out even before `open` has returned here.
final class RouteTable: Sendable {
    private struct IDs {
        var data: SocketID?
        var control: SocketID?
        var publish: SocketID?
    }
    private let ids = Mutex(IDs())

    func set(control: SocketID, publish: SocketID) {
        ids.withLock {
            $0.control = control
            $0.publish = publish
        }
    }

    func set(data: SocketID) {
        ids.withLock { $0.data = data }
    }

    func send(_ route: Route, _ frames: [OwnedFrame], via reactor: SocketReactor) {
        let ids = ids.withLock { $0 }
        switch route {
        case .data(let key): if let id = ids.data { reactor.send(id, [key.routingID] + frames) }
        case .control(let requester): if let id = ids.control { reactor.send(id, [requester] + frames) }
        case .publish: if let id = ids.publish { reactor.send(id, frames) }
        }
    }
}

extension LearnerCore.DataMessage {
    /// A message as the data ROUTER delivers it: routing identity first. nil if it has none.
    init?(_ m: InboundMessage) {
        guard let identity = m.frames.first else { return nil }
        let frames = Array(m.frames.dropFirst())
        // Who the peer is matters for a Hello (its session keeps it); reading the connection's
        // properties for every chunk would cost two lookups and two strings each.
        let isHello = frames.first?.withUnsafeBytes({ WireHeader(bytes: $0) })?.type == .hello
        self.init(key: WorkerKey(identity.bytes), frames: frames, truncated: m.truncated,
                  peer: isHello ? PeerIdentity(address: m.peerAddress, keyName: m.userID) : PeerIdentity())
    }
}

/// What the learner runs its training on: a thread that consumes chunks and publishes versions.
protocol TrainerThread: Sendable {
    func start(limitReached: @escaping @Sendable () -> Void)
    func join() async
}

extension StandInTrainer: TrainerThread {}
extension PolicyTrainer: TrainerThread {}

extension TransportTotals {
    init(_ s: ReactorStats) {
        self.init()
        messagesReceived = s.messagesReceived
        messagesSent = s.messagesSent
        bytesReceived = s.bytesReceived
        sendsUnroutable = s.sendsUnroutable
        sendsDropped = s.sendsDropped
        sendsFailed = s.sendsFailed
        messagesTruncated = s.messagesTruncated
    }
}
