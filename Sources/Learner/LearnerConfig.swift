import Corrections
import Domain
import Environments
import Experience
import Foundation
import Protocol
import Telemetry
import Training

/// Everything a learner run is configured with. Every field has a working default.
public struct LearnerConfig: Sendable, Equatable, Codable {
    /// Identifies the run; chunks naming another run are refused. Random when empty.
    public var runID = ""
    /// Data ROUTER endpoints (workers' DEALERs connect here). `*` binds an ephemeral port.
    /// Loopback by default: other addresses need CURVE (`curve`) or `insecure`.
    public var dataEndpoints = ["tcp://127.0.0.1:5555"]
    /// Weights PUB endpoints (WeightsAvailable announcements).
    public var weightsEndpoints = ["tcp://127.0.0.1:5556"]
    /// Control ROUTER endpoints (GetWeights, StatusRequest).
    public var controlEndpoints = ["tcp://127.0.0.1:5557"]
    /// T: steps per chunk that workers are told to send.
    public var unrollLength: UInt32 = 32
    /// Most chunks a worker may have in flight (sent, not yet consumed by the trainer).
    public var maxCredits: UInt32 = 32
    /// Bytes of chunks a worker may have in flight. A worker gets
    /// `clamp(creditBytes / chunk bytes, 2, maxCredits)` credits, so small chunks keep
    /// the pipe full while large ones stay within a memory budget.
    public var creditBytes = 32 << 20
    /// Either side sends a Heartbeat when it sent nothing else for this long.
    public var heartbeatInterval: Duration = .milliseconds(500)
    /// A worker silent this long is expired and its state freed.
    public var liveness: Duration = .seconds(5)
    /// Largest message accepted, all frames together. libzmq itself drops a connection
    /// that sends a single frame above this (ZMQ_MAXMSGSIZE).
    public var maxMessageBytes = 64 << 20
    /// Weights snapshots larger than this travel as several `Weights` parts.
    public var weightsPartBytes = 1 << 20
    /// Floats per observation of the synthetic task (`envID` "synthetic"); workers with
    /// `--env synthetic` must send observations of this size.
    public var syntheticObservationSize = 4
    /// Worker sessions admitted at once; a Hello beyond is refused with `CODE_LEARNER_FULL`.
    public var maxWorkers = 1024
    /// Chunk bytes the learner holds at most, all workers together: credits in flight (each
    /// counted at the largest chunk it allows) plus what the buffer holds. Credits are granted
    /// only within it, on top of each worker's own `creditBytes`.
    public var memoryBudgetBytes = 512 << 20
    /// T × B of one chunk at most; a Hello whose B makes larger chunks is refused (`CODE_OVERSIZE`).
    public var maxChunkSteps = 1 << 16
    /// CURVE authentication and encryption of every socket (docs/security.md); nil: plaintext,
    /// which the learner allows only when every bind is loopback, or with `insecure`.
    public var curve: CurveSettings? = nil
    public struct CurveSettings: Sendable, Equatable, Codable {
        /// The learner's secret key file (`tributary keys generate`).
        public var secretKeyFile: String
        /// The keys allowed in: a public key file, or a directory of them (reloaded on SIGHUP).
        public var allowKeys: String
        public init(secretKeyFile: String, allowKeys: String) {
            self.secretKeyFile = secretKeyFile
            self.allowKeys = allowKeys
        }
    }
    /// Plaintext on a non-loopback bind, knowingly (logs a warning).
    public var insecure = false
    /// Endpoints other than loopback (127.0.0.0/8, ::1, localhost, ipc://, inproc://): what
    /// plaintext must not be bound to without `insecure`.
    public var nonLoopbackEndpoints: [String] {
        (dataEndpoints + weightsEndpoints + controlEndpoints).filter { !Self.isLoopback($0) }
    }

    public var bindsOnlyLoopback: Bool { nonLoopbackEndpoints.isEmpty }

    static func isLoopback(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = String(endpoint.dropFirst(6))
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if let semicolon = host.firstIndex(of: ";") { host = String(host[host.index(after: semicolon)...]) }  // source;dest
        return host == "localhost" || host == "lo" || host == "::1" || host.hasPrefix("127.")
    }

    /// How the learner's sockets are protected, as the status reply says it.
    public var security: String {
        curve != nil ? "curve" : insecure ? "plaintext (--insecure)" : "plaintext (loopback only)"
    }
    /// `/healthz` reports "degraded" after this many consecutive skipped updates.
    public var degradedAfterSkips = 10
    /// What the trainer learns: a gymnasium id (CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1) runs
    /// the policy trainer (with `training.correction`); "synthetic" runs the stand-in trainer, which only exercises the
    /// protocol (versions, weights, credits) for transport tests and benchmarks.
    public var envID = "synthetic"
    /// The environment every Hello and chunk is checked against: the declared one
    /// (`externalEnvironment`), else the registry's for a known id, the synthetic task's for
    /// "synthetic". nil for an unknown, undeclared id (`validate` refuses it).
    public var environment: EnvSpec? {
        if let externalEnvironment { return externalEnvironment }
        return envID == "synthetic" ? .synthetic(observationSize: syntheticObservationSize) : EnvironmentRegistry.spec(envID)
    }
    /// An environment Tributary does not ship (a Python worker's, say), declared by its spaces:
    /// `envID` is its id, and every Hello and chunk is checked against this declaration as
    /// against a built-in one. The learner needs none of its code; it cannot evaluate it
    /// (`--eval-seconds` does not apply), and its mean return comes from the workers' episode
    /// statistics. nil: `envID` is built in (or synthetic). Optional so that checkpoints
    /// written before it existed still decode.
    public var externalEnvironment: EnvSpec? = nil
    /// The policy trainer's settings (network, optimizer, correction, loss, stopping rule).
    public var training = TrainingSettings()
    /// OpenBLAS threads for the trainer (two do not help at these sizes).
    public var blasThreads = 1
    /// Where training runs keep their files (`ROOT/RUN_ID/`); nil writes none.
    public var runsRoot: String? = nil
    /// Draw a progress bar on stderr (a terminal) instead of a log line every 2 s.
    public var progressBar = false
    /// Where Prometheus `/metrics` and `/healthz` are served (HTTP); nil serves none.
    public var metrics: MetricsEndpoint? = nil
    public struct MetricsEndpoint: Sendable, Equatable, Codable {
        /// A numeric IPv4 or IPv6 address; 0.0.0.0 is every interface.
        public var host: String
        /// 0 binds an ephemeral port (reported in the ready event).
        public var port: UInt16
        public init(host: String, port: UInt16) {
            self.host = host
            self.port = port
        }
    }
    /// Checkpoints of the trainer (RUN_DIR/checkpoints, docs/operations.md): one this often, one
    /// every `checkpointEveryUpdates` updates, and one when the learner stops; nil turns that
    /// trigger off. Written only when the run has a directory (`runsRoot`).
    public var checkpointInterval: Duration? = .seconds(60)
    public var checkpointEveryUpdates: UInt64? = nil
    /// Checkpoints kept (the newest).
    public var keepCheckpoints = 3
    /// Periodic evaluation of the policy in the run's environment, keeping the best checkpoint
    /// (`checkpoints/best.ckpt`); nil: none. Optional so that checkpoints written before it
    /// existed still decode (a resumed run takes it from the command line).
    public var evaluation: Evaluation? = Evaluation()
    public struct Evaluation: Sendable, Equatable, Codable {
        public var interval: Duration = .seconds(30)
        public var episodes = 10
        public var greedy = false
        public init() {}
    }
    /// Continue the run in this run directory from its newest intact checkpoint.
    public var resumeRunDirectory: String? = nil
    /// A new run starting from the parameters of this checkpoint file or run directory (its
    /// newest intact checkpoint); nil: a fresh network.
    public var initFrom: String? = nil

    /// The configuration of a resumed run: the checkpoint's (environment, network, training,
    /// buffer), with what belongs to this invocation from `self` (sockets, security, metrics,
    /// stopping rules, checkpoints, threads, the terminal, the staleness pattern: `injectLag`, `weightsSync`).
    public func resuming(_ checkpoint: Checkpoint, runDirectory: URL) -> LearnerConfig {
        var c = checkpoint.config
        c.runID = checkpoint.runID
        c.runsRoot = runDirectory.deletingLastPathComponent().path
        c.resumeRunDirectory = runDirectory.path
        c.dataEndpoints = dataEndpoints
        c.weightsEndpoints = weightsEndpoints
        c.controlEndpoints = controlEndpoints
        c.curve = curve
        c.insecure = insecure
        c.metrics = metrics
        c.progressBar = progressBar
        c.training.targetReturn = training.targetReturn
        c.training.maxUpdates = training.maxUpdates
        c.maxChunks = maxChunks
        c.checkpointInterval = checkpointInterval
        c.checkpointEveryUpdates = checkpointEveryUpdates
        c.keepCheckpoints = keepCheckpoints
        c.evaluation = evaluation
        c.metricsInterval = metricsInterval
        c.metricsEvery = metricsEvery
        c.blasThreads = blasThreads
        c.injectLag = injectLag
        c.weightsSync = weightsSync
        return c
    }

    /// A metrics.jsonl line (and TensorBoard point, and the per-update gauges) this often; every
    /// `metricsEvery` updates instead when that is set.
    public var metricsInterval: Duration? = .seconds(1)
    public var metricsEvery: Int? = nil
    /// Controlled staleness, for tests and experiments: workers are offered the weights this
    /// many versions older than the learner's, so every sample is at least this stale.
    public var injectLag: UInt64 = 0
    /// When workers are offered new weights (controlled staleness, the seed paper's sync
    /// patterns): nil or `.interval(1)` every version; `.interval(k)` only versions 1, k + 1,
    /// 2k + 1, … (the lag cycles 0…k−1); `.offline` only the first one served (the run's start
    /// or the checkpoint resumed). Applied after `injectLag`.
    public var weightsSync: WeightsSync? = nil
    public enum WeightsSync: Sendable, Equatable, Codable {
        case interval(Int)
        case offline
    }
    /// The staleness-aware buffer: admission bound and the buffer's own policy.
    public var buffer = BufferSettings()

    public struct BufferSettings: Sendable, Equatable, Codable {
        /// η, the staleness bound on admission (AReaL's `max_head_offpolicyness`): credits go out
        /// only while the columns admitted but not yet trained, plus those in flight, stay
        /// within (η + 1) · batch columns. 0 is synchronous training; nil is unbounded (then
        /// only credits bound what is in flight, and lag is whatever they allow).
        public var eta: UInt64? = nil
        /// The mean lag (versions) the learner keeps trained samples at or below by moving η
        /// (`Admission`, docs/scaling.md); the presets set one per task. Ignored when `eta` is
        /// set; with neither, admission is unbounded.
        public var lagTarget: Double? = nil
        /// Order, reuse, drop rule, limiter, capacity and groups (see `BufferPolicy`).
        public var policy = BufferPolicy()
        public init() {}

        /// A fixed η wins over a lag target; with neither, admission is unbounded.
        public var admissionMode: Admission.Mode {
            if let eta { return .fixed(eta: eta) }
            if let lagTarget { return .target(lag: lagTarget) }
            return .unbounded
        }
    }

    /// What an external environment's declaration must satisfy.
    static func validateExternal(_ e: EnvSpec, envID: String) throws(ConfigError) {
        guard e.id == envID else { throw ConfigError("the declared environment is '\(e.id)', the run's '\(envID)'") }
        if envID == "synthetic" || EnvironmentRegistry.spec(envID) != nil {
            throw ConfigError("\(envID) is built in: its spaces are known, leave out --observation-shape and --action-space (or give your environment another id)")
        }
        if envID.isEmpty || envID.utf8.count > FieldLimits.envID {
            throw ConfigError("an environment id must be 1…\(FieldLimits.envID) bytes, not '\(envID)'")
        }
        if e.observationShape.isEmpty || e.observationShape.count > FieldLimits.rank || e.observationShape.contains(where: { $0 < 1 }) {
            throw ConfigError("--observation-shape must be 1…\(FieldLimits.rank) positive sizes, e.g. 8 or 4,84,84, not \(e.observationShape)")
        }
        let (size, overflow) = e.observationShape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        if overflow || size > 1 << 20 { throw ConfigError("an observation of \(e.observationShape) is too large for the MLP (at most 2^20 floats)") }
        switch e.actionSpace {
        case .discrete(let n) where n < 2 || n > 1 << 16:
            throw ConfigError("a discrete action space needs 2…65536 actions, not \(n)")
        case .continuous(let d, _, _) where d < 1 || d > 1 << 12:
            throw ConfigError("a continuous action space (box:D) needs 1…4096 dimensions, not \(d)")
        default: break
        }
        if let t = e.maxEpisodeSteps, t < 1 { throw ConfigError("--max-episode-steps must be at least 1 (or off), not \(t)") }
    }

    /// An external environment's declaration as config.json records it.
    static func describe(_ e: EnvSpec) -> [String: Any] {
        var d: [String: Any] = ["id": e.id, "observation_shape": e.observationShape, "max_episode_steps": e.maxEpisodeSteps as Any? ?? NSNull()]
        switch e.actionSpace {
        case .discrete(let n): d["action_space"] = "discrete:\(n)"
        case .continuous(let n, _, _): d["action_space"] = "box:\(n)"
        }
        return d
    }

    /// The configuration as written to a run's config.json.
    public func describe(runID: String) -> [String: Any] {
        [
            "run_id": runID, "env_id": envID, "data": dataEndpoints, "weights": weightsEndpoints, "control": controlEndpoints,
            "unroll_length": unrollLength, "max_credits": maxCredits, "credit_bytes": creditBytes,
            "heartbeat_ms": heartbeatInterval.milliseconds, "liveness_ms": liveness.milliseconds,
            "max_message_bytes": maxMessageBytes, "hidden": training.hidden, "activation": training.activation.rawValue,
            "learning_rate": training.learningRate, "optimizer": (training.optimizer ?? .adam).rawValue, "max_grad_norm": training.maxGradNorm, "gamma": training.gamma,
            "entropy_cost": training.entropyCost, "baseline_cost": training.baselineCost, "reward_scale": training.rewardScale, "batch_columns": training.batchColumns,
            "target_return": training.targetReturn as Any? ?? NSNull(), "max_updates": training.maxUpdates as Any? ?? NSNull(),
            "seed": training.seed, "blas_threads": blasThreads, "correction": training.objectiveName,
            "corrections": training.corrections.describe(),
            "buffer": buffer.describe(), "inject_lag": injectLag, "weights_sync": weightsSyncDescription,
            "metrics": metrics.map { "\($0.host):\($0.port)" } ?? NSNull(),
            "max_workers": maxWorkers, "memory_budget_bytes": memoryBudgetBytes, "max_chunk_steps": maxChunkSteps,
            "synthetic_observation_size": syntheticObservationSize, "degraded_after_skips": degradedAfterSkips,
            "external_environment": externalEnvironment.map(Self.describe) ?? NSNull(),
        ]
    }
    /// "every version", "every k versions" or "offline".
    public var weightsSyncDescription: String {
        switch weightsSync {
        case nil, .interval(1): "every version"
        case .interval(let k): "every \(k) versions"
        case .offline: "offline"
        }
    }

    /// The stand-in trainer of `envID` "synthetic" (transport tests and benchmarks): a new policy version every
    /// this many consumed chunks, with a synthetic parameter vector of `parameterBytes`.
    public var chunksPerVersion = 8
    public var parameterBytes = 64 * 1024
    /// Stop after consuming this many chunks (benchmarks, tests). nil: run until signalled.
    public var maxChunks: UInt64? = nil
    /// Expired workers kept for the status reply.
    public var expiredWorkersKept = 64

    public init() {}

    /// Credits for a worker whose chunks have `chunkBytes` bytes.
    public func credits(forChunkBytes chunkBytes: Int) -> UInt32 {
        let fit = creditBytes / max(1, chunkBytes)
        return UInt32(min(Int(maxCredits), max(min(2, Int(maxCredits)), fit)))
    }

    /// Checks the values a user can get wrong; the message says which and why.
    public func validate() throws(ConfigError) {
        if dataEndpoints.isEmpty || weightsEndpoints.isEmpty || controlEndpoints.isEmpty {
            throw ConfigError("every socket needs at least one endpoint")
        }
        if curve == nil, !insecure, !bindsOnlyLoopback {
            throw ConfigError("plaintext on \(nonLoopbackEndpoints.joined(separator: ", ")) would let anyone who reaches it send data and read the weights: pass --curve-secret-key and --allow-keys (docs/security.md), or --insecure to accept that")
        }
        if let m = metrics, !MetricsServer.isNumericAddress(m.host) {
            throw ConfigError("/metrics needs a numeric IPv4 or IPv6 address, not '\(m.host)' (from --metrics-bind): pass --metrics-bind, e.g. 127.0.0.1 or 0.0.0.0, or --no-metrics")
        }
        if unrollLength == 0 || unrollLength > UInt32(ChunkValidator.maxLength) {
            throw ConfigError("unroll length must be in 1...\(ChunkValidator.maxLength), got \(unrollLength)")
        }
        if maxCredits == 0 { throw ConfigError("credits must be at least 1") }
        if creditBytes < 1 { throw ConfigError("credit bytes must be positive") }
        if heartbeatInterval <= .zero { throw ConfigError("heartbeat interval must be positive") }
        if liveness <= heartbeatInterval {
            throw ConfigError("liveness (\(liveness)) must be longer than the heartbeat interval (\(heartbeatInterval))")
        }
        if maxMessageBytes < 4096 { throw ConfigError("max message bytes must be at least 4096") }
        if weightsPartBytes < 1024 || weightsPartBytes > maxMessageBytes - 4096 {
            throw ConfigError("weights part bytes must be in 1024...\(maxMessageBytes - 4096)")
        }
        if chunksPerVersion < 1 { throw ConfigError("chunks per version must be at least 1") }
        if parameterBytes < 1 { throw ConfigError("parameter bytes must be at least 1") }
        if let external = externalEnvironment {
            try Self.validateExternal(external, envID: envID)
        }
        guard environment != nil else {
            throw ConfigError("unknown environment '\(envID)'; known: synthetic, \(EnvironmentRegistry.ids.joined(separator: ", ")); for your own environment (Python workers), declare its spaces: --observation-shape and --action-space (python/README.md)")
        }
        if syntheticObservationSize < 1 { throw ConfigError("the synthetic observation size must be at least 1") }
        if maxWorkers < 1 { throw ConfigError("max workers must be at least 1") }
        if maxChunkSteps < Int(unrollLength) {
            throw ConfigError("max chunk steps (\(maxChunkSteps)) must be at least the unroll length (\(unrollLength))")
        }
        if memoryBudgetBytes < maxMessageBytes {
            throw ConfigError("the memory budget (\(memoryBudgetBytes) bytes) must hold at least one message of max message bytes (\(maxMessageBytes))")
        }
        if degradedAfterSkips < 1 { throw ConfigError("degraded-after-skips must be at least 1") }
        if let target = training.targetReturn, let most = EnvironmentRegistry.maxReturn(envID), target > most {
            throw ConfigError("--target-return \(target) can never be reached: \(envID) returns at most \(most) an episode (leave it out, or --target-return off, to train until stopped)")
        }
        if training.batchColumns < 1 { throw ConfigError("batch columns must be at least 1") }
        if !(training.learningRate > 0) { throw ConfigError("the learning rate (--learning-rate) must be positive, not \(training.learningRate)") }
        if !(training.gamma > 0 && training.gamma <= 1) { throw ConfigError("the discount γ (--gamma) must be in (0, 1], not \(training.gamma)") }
        if !(training.entropyCost >= 0) { throw ConfigError("the entropy cost (--entropy-cost) must be ≥ 0, not \(training.entropyCost)") }
        if !(training.baselineCost >= 0) { throw ConfigError("the value-loss weight (--baseline-cost) must be ≥ 0, not \(training.baselineCost)") }
        if !(training.rewardScale > 0) { throw ConfigError("reward scale must be positive") }
        let p = buffer.policy
        if p.capacity < 1 { throw ConfigError("buffer capacity must be at least 1 chunk") }
        if p.maxReuse < 1 { throw ConfigError("max reuse must be at least 1") }
        if case .newestFirst(let k) = p.order, !(k >= 0) { throw ConfigError("the priority's reuse penalty k must be ≥ 0") }
        if let r = p.samplesPerInsert {
            if !(r > 0) { throw ConfigError("samples per insert must be positive") }
            // Inserting must be able to get a whole batch ahead, or neither side could move.
            let needed = Double(training.batchColumns) * max(1, r)
            if p.ratioTolerance < needed {
                throw ConfigError("the ratio tolerance (\(p.ratioTolerance) columns) must be at least batch columns × max(1, samples per insert) = \(needed)")
            }
        }
        if let k = p.groupSize, k < 1 { throw ConfigError("group size must be at least 1") }
        if let t = buffer.lagTarget, !(t >= 1 && t <= 1e6) {
            throw ConfigError("the lag target must be between 1 and 1e6 versions (or off), not \(t)")
        }
        if let maxLag = p.maxLag, maxLag < injectLag {
            throw ConfigError("max lag \(maxLag) is below the injected lag \(injectLag): every sample would be dropped")
        }
        if case .interval(let k) = weightsSync, k < 1 { throw ConfigError("the sync interval must be at least 1") }
        let k = training.corrections
        if training.correction == .group, envID != "synthetic", EnvironmentRegistry.sequenceTask(envID) == nil {
            throw ConfigError("group-relative methods (--preset, --correction group) learn from groups of answers to one prompt: use a sequence task (--env \(EnvironmentRegistry.sequenceTasks.map { $0.id }.joined(separator: ", "))), not \(envID)")
        }
        if let task = EnvironmentRegistry.sequenceTask(envID), unrollLength != UInt32(task.answerLength) {
            throw ConfigError("a '\(envID)' answer has \(task.answerLength) tokens: the unroll length must be \(task.answerLength), not \(unrollLength) (leave --unroll-length out)")
        }
        if !(k.group.referenceCoefficient >= 0) { throw ConfigError("the KL coefficient must be ≥ 0") }
        if !(k.vtrace.rhoBar > 0 && k.vtrace.cBar > 0 && k.vtrace.pgRhoBar > 0) { throw ConfigError("ρ̄, c̄ and ρ̄_pg must be positive") }
        if !(k.vtrace.lambda > 0 && k.vtrace.lambda <= 1) { throw ConfigError("V-trace λ must be in (0, 1]") }
        if !(k.ppo.epsLow > 0 && k.ppo.epsLow < 1 && k.ppo.epsHigh > 0) { throw ConfigError("clip ε_low must be in (0, 1) and ε_high positive") }
        if let c = k.ppo.dualClip, !(c > 1) { throw ConfigError("the dual clip must be > 1") }
        if let cap = k.decoupled.behaviourCap, !(cap > 1) { throw ConfigError("the behaviour cap must be > 1") }
        if !(k.tis.cap >= 1) { throw ConfigError("the TIS cap must be ≥ 1") }
        if !(k.gaeLambda >= 0 && k.gaeLambda <= 1) { throw ConfigError("GAE λ must be in [0, 1]") }
        if k.epochs < 1 || k.minibatches < 1 { throw ConfigError("epochs and minibatches must be at least 1") }
        if k.targetUpdateEvery < 1 { throw ConfigError("the target update interval must be at least 1") }
        if training.hidden.isEmpty || training.hidden.contains(where: { $0 < 1 }) { throw ConfigError("hidden sizes must be positive") }
        if blasThreads < 1 { throw ConfigError("BLAS threads must be at least 1") }
        if keepCheckpoints < 1 { throw ConfigError("--keep-checkpoints must be at least 1") }
        if let i = checkpointInterval, i <= .zero { throw ConfigError("--checkpoint-seconds must be positive (or off)") }
        if checkpointEveryUpdates == 0 { throw ConfigError("--checkpoint-every-updates must be at least 1 (or off)") }
    }
}

/// An invalid configuration value.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension LearnerConfig.BufferSettings {
    /// As written to config.json and shown by `tributary status`.
    public func describe() -> [String: Any] {
        let order: String
        switch policy.order {
        case .fifo: order = "fifo"
        case .newestFirst(let k): order = "newest-first(k=\(k))"
        }
        return [
            "eta": eta.map { Int($0) as Any } ?? "unbounded", "lag_target": eta != nil ? "off (eta)" : lagTarget as Any? ?? "off", "max_lag": policy.maxLag.map { Int($0) as Any } ?? "none",
            "max_reuse": policy.maxReuse, "order": order, "capacity_chunks": policy.capacity,
            "samples_per_insert": policy.samplesPerInsert as Any? ?? "off", "ratio_tolerance": policy.ratioTolerance,
            "group_size": policy.groupSize as Any? ?? "none", "group_timeout_ms": policy.groupTimeout.milliseconds,
        ]
    }
}

extension CorrectionSettings {
    /// As written to config.json.
    public func describe() -> [String: Any] {
        [
            "rho_bar": vtrace.rhoBar, "c_bar": vtrace.cBar, "pg_rho_bar": vtrace.pgRhoBar, "vtrace_lambda": vtrace.lambda,
            "vtrace_form": vtrace.advantageForm.rawValue,
            "clip_low": ppo.epsLow, "clip_high": ppo.epsHigh, "dual_clip": ppo.dualClip as Any? ?? "off",
            "tis_level": tis.level.rawValue, "tis_cap": tis.cap, "tis_mode": tisMask ? "mask" : "cap", "behaviour_cap": decoupled.behaviourCap as Any? ?? "off",
            "appo_clip": appo.clip, "appo_target_clip": appo.targetClip, "target_update_every": targetUpdateEvery,
            "gae_lambda": gaeLambda, "normalize_advantages": normalizeAdvantages, "value_clip": valueClip as Any? ?? "off",
            "epochs": epochs, "minibatches": minibatches,
        ]
    }
}
