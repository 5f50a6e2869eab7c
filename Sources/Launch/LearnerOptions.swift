import ArgumentParser
import Foundation
import Corrections
import Domain
import Learner
import Logging
import NeuralNet
import Training

/// Every flag of `learner`, in the groups its help shows. `config(isTerminal:)` maps them onto
/// a `LearnerConfig` (the environment's preset first, explicit flags on top) and validates it;
/// the executable only parses and runs.
public struct LearnerOptions: ParsableArguments {
    @OptionGroup(title: "Sockets and security") public var sockets: LearnerSocketOptions
    @OptionGroup(title: "Run") public var run: RunOptions
    @OptionGroup(title: "Network and optimiser (defaults: the environment's preset)") public var network: NetworkOptions
    @OptionGroup(title: "Off-policy correction (docs/staleness.md)") public var correction: CorrectionOptions
    @OptionGroup(title: "Admission, staleness and the buffer") public var admission: AdmissionOptions
    @OptionGroup(title: "In-process workers (debugging)") public var local: LocalWorkerOptions
    @OptionGroup(title: "Stand-in trainer (--env synthetic)") public var standIn: StandInOptions

    public init() {}

    /// The resolved configuration; `isTerminal`: standard error is a terminal (a progress bar).
    public func config(isTerminal: Bool) throws(ConfigError) -> LearnerConfig {
        var c = LearnerConfig()
        let preset = TrainingPresets.preset(for: run.env)
        c.training = preset.training
        c.maxCredits = admission.credits ?? preset.maxCredits
        c.buffer.lagTarget = preset.lagTarget
        c.unrollLength = admission.unrollLength ?? preset.unrollLength
        try sockets.apply(to: &c, inProcess: local.localWorkers > 0)
        try run.apply(to: &c, isTerminal: isTerminal)
        try network.apply(to: &c)
        try correction.apply(to: &c)
        try admission.apply(to: &c)
        c.chunksPerVersion = standIn.chunksPerVersion
        c.parameterBytes = standIn.parameterBytes
        if local.localWorkers > 0, c.externalEnvironment != nil {
            throw ConfigError("--local-workers run Tributary's own environments; \(c.envID) is yours: start Python workers for it (tributary-worker --env ..., python/README.md)")
        }
        try c.validate()
        return c
    }

    /// The values of the flags that default to the environment's preset, as resolved into
    /// `config`: what a config file must say to repeat the run on a build with other presets.
    public static func presetValues(of config: LearnerConfig) -> [String: [String]] {
        let t = config.training
        return [
            "learning-rate": ["\(t.learningRate)"], "optimizer": [(t.optimizer ?? .adam).rawValue], "entropy-cost": ["\(t.entropyCost)"], "gamma": ["\(t.gamma)"],
            "reward-scale": ["\(t.rewardScale)"], "baseline-cost": ["\(t.baselineCost)"], "batch-columns": ["\(t.batchColumns)"],
            "credits": ["\(config.maxCredits)"], "lag-target": [config.buffer.lagTarget.map { "\($0)" } ?? "off"], "hidden": [t.hidden.map(String.init).joined(separator: ",")],
            "activation": [t.activation.rawValue], "unroll-length": ["\(config.unrollLength)"], "correction": [t.correction.rawValue],
        ]
    }
}

public struct LearnerSocketOptions: ParsableArguments {
    @Option(help: "Interface to bind (used with the ports; '*' is every interface). Anything but loopback needs CURVE (--curve-secret-key, --allow-keys) or --insecure.")
    public var bind = "127.0.0.1"
    @Option(help: "Data ROUTER port (0: an ephemeral port).") public var dataPort = 5555
    @Option(help: "Weights PUB port (default: --data-port + 1, so 5556; an ephemeral port when --data-port is 0).") public var weightsPort: Int?
    @Option(help: "Control ROUTER port (default: --data-port + 2, so 5557; an ephemeral port when --data-port is 0).") public var controlPort: Int?
    @Option(help: "Data endpoint(s), overriding --bind/--data-port (e.g. ipc:///tmp/trib-data).") public var data: [String] = []
    @Option(help: "Weights endpoint(s), overriding --bind/--weights-port.") public var weights: [String] = []
    @Option(help: "Control endpoint(s), overriding --bind/--control-port.") public var control: [String] = []
    @Option(help: "CURVE: the learner's secret key file (NAME.key_secret from `tributary keys generate`).") public var curveSecretKey: String?
    @Option(help: "CURVE: the public keys allowed in, a NAME.key file or a directory of them (reloaded on SIGHUP).") public var allowKeys: String?
    @Flag(help: "Allow plaintext on a non-loopback bind: anyone who reaches the ports can send data and read the weights.") public var insecure = false
    @Option(help: "HTTP port of Prometheus /metrics and /healthz (0: an ephemeral port).") public var metricsPort = 5558
    @Option(help: "Interface of /metrics (default 127.0.0.1; '*' is every interface). /metrics has no authentication.") public var metricsBind = "127.0.0.1"
    @Flag(help: "Serve no /metrics and /healthz.") public var noMetrics = false

    public init() {}

    func apply(to c: inout LearnerConfig, inProcess: Bool) throws(ConfigError) {
        // Weights and control follow the data port unless given: the layout a worker's
        // --learner HOST:PORT assumes.
        let weightsPort = weightsPort ?? (dataPort == 0 ? 0 : dataPort + 1)
        let controlPort = controlPort ?? (dataPort == 0 ? 0 : dataPort + 2)
        for (flag, port) in [("data-port", dataPort), ("weights-port", weightsPort), ("control-port", controlPort), ("metrics-port", metricsPort)]
        where !(0...65535).contains(port) {
            let derived = flag != "data-port" && flag != "metrics-port" && (flag == "weights-port" ? self.weightsPort : self.controlPort) == nil
            throw ConfigError(derived ? "--data-port \(dataPort) leaves no room for the \(flag.dropLast(5)) port (data + \(flag == "weights-port" ? 1 : 2)): give --\(flag)"
                                      : "--\(flag) must be a port number in 0…65535 (0: any free port), not \(port)")
        }
        func endpoints(_ explicit: [String], _ port: Int, _ name: String) -> [String] {
            let usual = explicit.isEmpty ? ["tcp://\(bind):\(port == 0 ? "*" : String(port))"] : explicit
            return inProcess ? ["inproc://tributary-\(name)"] + usual : usual
        }
        c.dataEndpoints = endpoints(data, dataPort, "data")
        c.weightsEndpoints = endpoints(weights, weightsPort, "weights")
        c.controlEndpoints = endpoints(control, controlPort, "control")
        if !noMetrics { c.metrics = .init(host: metricsBind == "*" ? "0.0.0.0" : metricsBind, port: UInt16(metricsPort)) }
        switch (curveSecretKey, allowKeys) {
        case (let key?, let allowed?): c.curve = .init(secretKeyFile: key, allowKeys: allowed)
        case (nil, nil): break
        case (_?, nil): throw ConfigError("--curve-secret-key needs --allow-keys (the workers' and operators' public keys)")
        case (nil, _?): throw ConfigError("--allow-keys needs --curve-secret-key (the learner's own secret key)")
        }
        c.insecure = insecure
    }
}

public struct RunOptions: ParsableArguments {
    @Option(help: "Environment to learn: CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1, a sequence task (addrev, add, add3, reach), synthetic (stand-in trainer), or your own, declared with --observation-shape and --action-space (Python workers). Sets the hyper-parameter preset.")
    public var env = "synthetic"
    @Option(help: "Run id (random when omitted).") public var runId = ""
    @Option(help: "Training runs write config.json, metrics.jsonl, TensorBoard event files and the final parameters to RUNS/RUN_ID ('' for none).")
    public var runs = "runs"
    @Option(parsing: .unconditional, help: "Stop when the mean return of the last 100 episodes reaches this (negative values work: --target-return -100), or off.")
    public var targetReturn: Limit<Double>?
    @Option(help: "Stop after this many updates.") public var maxUpdates: UInt64?
    @Option(help: "Stop after consuming this many chunks.") public var maxChunks: UInt64?
    @Option(help: "Seed of the network's initialisation.") public var seed: UInt64 = 1
    @Option(help: "OpenBLAS threads.") public var blasThreads = 1
    @Option(help: "A metrics.jsonl line, TensorBoard point and update of the per-update gauges every this many seconds (with the per-episode points, about 9 MB of files per hour).")
    public var metricsSeconds = 1.0
    @Option(help: "Instead, one every N updates (or off).") public var metricsEvery = Limit<Int>(nil, off: "off")
    @Option(help: "Log level: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")).") public var logLevel = Logger.Level.info
    @Flag(help: "No progress bar, even on a terminal (log lines instead).") public var noProgress = false
    @Flag(help: "Print a JSON line (published) for every policy version the trainer publishes (with workers' --trace-versions: weight fan-out).")
    public var traceVersions = false
    @Option(help: "With --env synthetic: floats per observation that workers must send.") public var observationSize = 4
    @Option(help: "Your own environment (an --env id Tributary does not ship, trained by Python workers): the shape of one observation, comma-separated (8, or 4,84,84). With --action-space.")
    public var observationShape: String?
    @Option(help: "Your own environment: discrete:N (one of N actions) or box:D (a vector of D floats; the workers clip it to the environment's bounds).")
    public var actionSpace: ActionSpaceArgument?
    @Option(help: "Your own environment: the time limit of an episode, in steps (or off). Bounds the length the learner accepts for an episode that began before it saw it.")
    public var maxEpisodeSteps = Limit<Int>(nil, off: "off")
    @Option(help: "Continue the run in RUN_DIR (e.g. runs/run-1a2b3c4d) from its newest intact checkpoint: same run id, versions above the old ones, counters carried over. Environment, network and training settings come from the checkpoint; sockets, stopping rules and checkpoint flags from this command line.")
    public var resume: String?
    @Option(help: "Start a new run from the policy of a checkpoint file or RUN_DIR (its newest intact checkpoint): the parameters only (a fresh optimiser, version 1, this command line's settings; the network must have the same shape). With a KL penalty, that policy is also the reference.")
    public var initFrom: String?
    @Option(help: "A checkpoint (RUN_DIR/checkpoints) every this many seconds, or off; one is also written when the learner stops.")
    public var checkpointSeconds = Limit<Double>(60, off: "off")
    @Option(help: "A checkpoint every this many updates, or off.") public var checkpointEveryUpdates = Limit<UInt64>(nil, off: "off")
    @Option(help: "Checkpoints kept (the newest).") public var keepCheckpoints = 3
    @Option(help: "Evaluate the policy every this many seconds (or off), keeping the best checkpoint by evaluated return as RUN_DIR/checkpoints/best.ckpt.")
    public var evalSeconds = Limit<Double>(30, off: "off")
    @Option(help: "Whole episodes per evaluation.") public var evalEpisodes = 10
    @Flag(help: "Evaluate the greedy policy (most likely action, or the mean) instead of sampling as the workers do.") public var evalGreedy = false
    @Option(name: .customLong("config"), help: "A YAML file of settings: the keys are these flags without -- (data-port: 5555). Flags and TRIBUTARY_* variables override it; a run directory's config.yaml repeats that run. Also TRIBUTARY_CONFIG.")
    public var configFile: String?
    @Flag(help: "Print the resolved configuration as a config file (every setting, and where the preset filled one) and exit.")
    public var printConfig = false

    public init() {}

    func apply(to c: inout LearnerConfig, isTerminal: Bool) throws(ConfigError) {
        c.envID = env
        c.runID = runId
        c.runsRoot = runs.isEmpty ? nil : runs
        c.training.targetReturn = targetReturn?.value
        c.training.maxUpdates = maxUpdates
        c.maxChunks = maxChunks
        c.training.seed = seed
        c.blasThreads = blasThreads
        if let n = metricsEvery.value, n < 1 { throw ConfigError("--metrics-every must be at least 1 (a metrics line every N updates) or off, not \(n)") }
        guard metricsSeconds > 0, metricsSeconds.isFinite else { throw ConfigError("--metrics-seconds must be positive, not \(metricsSeconds)") }
        c.metricsEvery = metricsEvery.value
        c.metricsInterval = .milliseconds(Int64(metricsSeconds * 1000))
        c.syntheticObservationSize = observationSize
        switch (observationShape, actionSpace) {
        case (nil, nil):
            if maxEpisodeSteps.value != nil { throw ConfigError("--max-episode-steps declares your own environment's time limit: give it with --observation-shape and --action-space") }
        case (let shape?, let actions?):
            let parts = shape.split(separator: ",", omittingEmptySubsequences: false)
            let sizes = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, sizes.count == parts.count else {
                throw ConfigError("--observation-shape takes comma-separated sizes, e.g. 8 or 4,84,84, not '\(shape)'")
            }
            c.externalEnvironment = EnvSpec(id: env, observationShape: sizes, actionSpace: actions.space, maxEpisodeSteps: maxEpisodeSteps.value)
        case (nil, _?): throw ConfigError("--action-space declares your own environment: give its --observation-shape too")
        case (_?, nil): throw ConfigError("--observation-shape declares your own environment: give its --action-space too (discrete:N or box:D)")
        }
        c.resumeRunDirectory = resume
        if resume != nil, initFrom != nil { throw ConfigError("--init-from starts a new run; --resume continues one: give one of them") }
        c.initFrom = initFrom
        c.checkpointInterval = try checkpointSeconds.value.map { seconds throws(ConfigError) in
            guard seconds > 0, seconds.isFinite else { throw ConfigError("--checkpoint-seconds must be positive (or off), not \(seconds)") }
            return .milliseconds(Int64(seconds * 1000))
        }
        c.checkpointEveryUpdates = checkpointEveryUpdates.value
        c.keepCheckpoints = keepCheckpoints
        if evalEpisodes < 1 { throw ConfigError("--eval-episodes must be at least 1, not \(evalEpisodes)") }
        c.evaluation = try evalSeconds.value.map { seconds throws(ConfigError) in
            guard seconds > 0, seconds.isFinite else { throw ConfigError("--eval-seconds must be positive (or off), not \(seconds)") }
            var e = LearnerConfig.Evaluation()
            e.interval = .milliseconds(Int64(seconds * 1000))
            e.episodes = evalEpisodes
            e.greedy = evalGreedy
            return e
        }
        // A bar redrawn in place only makes sense on a terminal that shows info-level output.
        c.progressBar = !noProgress && isTerminal && logLevel <= .info
    }
}

public struct NetworkOptions: ParsableArguments {
    @Option(help: "Hidden layer sizes of the network, comma-separated (64,64 for CartPole-v1; 256,256 for the sequence tasks).") public var hidden: String?
    @Option(help: "Activation of the hidden layers (tanh for CartPole-v1; relu for the sequence tasks).") public var activation: Activation?
    @Option(help: "Optimizer learning rate (3e-3 for CartPole-v1).") public var learningRate: Float?
    @Option(help: "Optimizer: amsgrad (CartPole-v1's preset: Adam's steps bounded by the largest second moment seen, so a long run of ~0 gradients past the target cannot make the next one huge) or adam (every other preset).")
    public var optimizer: TrainerSettings.Optimizer?
    @Option(help: "Entropy bonus coefficient (0.001 for CartPole-v1).") public var entropyCost: Float?
    @Option(help: "Discount γ, in (0, 1] (0.99 for CartPole-v1).") public var gamma: Double?
    @Option(help: "Rewards are multiplied by this in the loss; returns are reported unscaled (1).") public var rewardScale: Double?
    @Option(help: "Weight of the value loss (0.5).") public var baselineCost: Float?
    @Option(help: "Environment columns (B) per update (16 for CartPole-v1).") public var batchColumns: Int?

    public init() {}

    func apply(to c: inout LearnerConfig) throws(ConfigError) {
        if let hidden {
            let parts = hidden.split(separator: ",", omittingEmptySubsequences: false)
            let sizes = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, sizes.count == parts.count else { throw ConfigError("--hidden takes comma-separated sizes, e.g. 64,64, not '\(hidden)'") }
            c.training.hidden = sizes
        }
        if let activation { c.training.activation = activation }
        if let learningRate { c.training.learningRate = learningRate }
        if let optimizer { c.training.optimizer = optimizer }
        if let entropyCost { c.training.entropyCost = entropyCost }
        if let gamma { c.training.gamma = gamma }
        if let rewardScale { c.training.rewardScale = rewardScale }
        if let baselineCost { c.training.baselineCost = baselineCost }
        if let batchColumns { c.training.batchColumns = batchColumns }
    }
}

public struct CorrectionOptions: ParsableArguments {
    @Option(help: "Off-policy correction (vtrace for the classic-control environments; group, i.e. --preset, for the sequence tasks).") public var correction: Correction?
    @Option(help: "Group-relative method by name (sets --correction group; a sequence task): \(GroupMethod.presetNames.joined(separator: ", ")).")
    public var preset: String?
    @Option(help: "How per-token losses become one loss (default: token-mean, or what --preset was published with).") public var aggregation: LossAggregation?
    @Option(help: "Group methods: weight of a KL penalty to the initial policy (0: off).") public var klCoef = 0.0
    @Option(help: "Group methods: the KL estimator of --kl-coef.") public var klEstimator = KL.Estimator.k3
    @Option(help: "Group methods: what the loss's log π_old is, the behaviour policy (the worker's log-probs) or the proximal policy (the learner's parameters at the batch's start).")
    public var centre = GroupMethod.Centre.behaviour
    @Option(help: "V-trace ρ̄ (vtrace, appo).") public var rhoBar = 1.0
    @Option(help: "V-trace c̄ (vtrace, appo).") public var cBar = 1.0
    @Option(help: "V-trace λ (vtrace, appo).") public var vtraceLambda = 1.0
    @Option(help: "V-trace ρ̄ of the policy-gradient advantage.") public var pgRhoBar = 1.0
    @Option(help: "V-trace advantage form for λ < 1.") public var vtraceForm = VTrace.AdvantageForm.paper
    @Option(help: "PPO clip ε_low (ppo, tis-ppo, decoupled-ppo).") public var clipLow = 0.2
    @Option(help: "PPO clip ε_high (clip-higher when above --clip-low).") public var clipHigh = 0.2
    @Option(help: "Dual-clip c for negative advantages, > 1, or off.") public var dualClip = Limit<Double>(3, off: "off")
    @Option(help: "tis-ppo: cap C of the truncated importance weight π_prox/μ.") public var tisCap = 2.0
    @Option(help: "tis-ppo: weight level.") public var tisLevel = TruncatedIS.Level.token
    @Flag(help: "tis-ppo: mask samples whose ratio is outside [1/C, C] instead of capping the weight at C.") public var tisMask = false
    @Option(help: "decoupled-ppo: behaviour weights π_prox/μ above this are filtered to 0 (or off).") public var behaviourCap = Limit<Double>(5, off: "off")
    @Option(help: "appo: surrogate clip.") public var appoClip = 0.4
    @Option(help: "appo: refresh the target network every this many batches.") public var targetUpdateEvery = 4
    @Option(help: "GAE λ (ppo, tis-ppo, decoupled-ppo).") public var gaeLambda = 0.95
    @Option(help: "Clip of the value loss around the proximal values (or off).") public var valueClip = Limit<Double>(nil, off: "off")
    @Option(help: "PPO family: passes over each batch.") public var epochs = 2
    @Option(help: "PPO family: minibatches per pass (whole environment columns).") public var minibatches = 2

    public init() {}

    func apply(to c: inout LearnerConfig) throws(ConfigError) {
        if let correction { c.training.correction = correction }
        var k = CorrectionSettings()
        k.vtrace.rhoBar = rhoBar
        k.vtrace.cBar = cBar
        k.vtrace.lambda = vtraceLambda
        k.vtrace.pgRhoBar = pgRhoBar
        k.vtrace.advantageForm = vtraceForm
        k.ppo.epsLow = clipLow
        k.ppo.epsHigh = clipHigh
        k.ppo.dualClip = dualClip.value
        k.decoupled.epsLow = clipLow
        k.decoupled.epsHigh = clipHigh
        k.decoupled.behaviourCap = behaviourCap.value
        k.tis.cap = tisCap
        k.tis.level = tisLevel
        k.tisMask = tisMask
        k.appo.clip = appoClip
        k.targetUpdateEvery = targetUpdateEvery
        k.gaeLambda = gaeLambda
        k.valueClip = valueClip.value
        k.epochs = epochs
        k.minibatches = minibatches
        if let preset {
            guard let method = GroupMethod.preset(preset) else {
                throw ConfigError("unknown --preset '\(preset)'; known: \(GroupMethod.presetNames.joined(separator: ", "))")
            }
            if let correction, correction != .group {
                throw ConfigError("--preset names a group method, but --correction is \(correction.rawValue)")
            }
            k.group = method
            c.training.correction = .group
            c.training.aggregation = method.aggregation
        }
        guard klCoef >= 0 else { throw ConfigError("--kl-coef must be at least 0") }
        k.group.referenceCoefficient = klCoef
        k.group.reference = KL.Parameters(estimator: klEstimator)
        k.group.centre = centre
        if let aggregation { c.training.aggregation = aggregation }
        c.training.corrections = k
    }
}

public struct AdmissionOptions: ParsableArguments {
    @Option(help: "Steps per chunk (T) that workers send (32; a sequence task's answer length).") public var unrollLength: UInt32?
    @Option(help: "Most chunks a worker may have in flight (default: the environment's preset; 32 for CartPole-v1).") public var credits: UInt32?
    @Option(help: "Bytes of chunks a worker may have in flight (credits = this / chunk size, 2…--credits).") public var creditBytes = 32 << 20
    @Option(help: "Heartbeat interval in milliseconds.") public var heartbeatMs = 500
    @Option(help: "Silence (ms) after which a worker is expired.") public var livenessMs = 5000
    @Option(help: "Largest accepted message in bytes.") public var maxMessageBytes = 64 << 20
    @Option(help: "Weights snapshots above this many bytes travel in parts.") public var weightsPartBytes = 1 << 20
    @Option(help: "Worker sessions admitted at once (a Hello beyond is refused).") public var maxWorkers = 1024
    @Option(help: "Chunk bytes held at most, all workers together: credits in flight plus the buffer.") public var memoryBudgetBytes = 512 << 20
    @Option(help: "Steps (T × B) of one chunk at most (a Hello whose num_envs makes larger chunks is refused).") public var maxChunkSteps = 1 << 16
    @Option(help: "/healthz reports degraded after this many updates in a row were skipped (non-finite loss or gradient).") public var degradedAfterSkips = 10
    @Option(help: "Controlled staleness (experiments): offer workers the weights this many versions older than the learner's.")
    public var injectLag: UInt64 = 0
    @Option(help: "Controlled staleness: a constant lag of this many versions (the same as --inject-lag).") public var syncOffset: UInt64?
    @Option(help: "Controlled staleness: workers get new weights only every this many updates, so the lag cycles 0…k−1.") public var syncInterval = 1
    @Flag(help: "Controlled staleness: workers keep the first weights they are offered (those of the run's start, or of the checkpoint resumed).")
    public var offline = false
    @Option(help: "Keep the mean version lag of trained samples at or below this by moving the admission bound η (default: the environment's preset; 8 for CartPole-v1; or off). --eta fixes η instead.")
    public var lagTarget: Limit<Double>?
    @Option(help: "Staleness bound η on admission, fixed: credits go out only while untrained plus in-flight columns stay within (η + 1) × batch columns (0: synchronous). Overrides --lag-target; unbounded with --lag-target off is 32 credits per worker and no bound.")
    public var eta = Limit<UInt64>(nil, off: "unbounded")
    @Option(help: "Drop chunks with a step more than this many versions old when a batch is formed (or none: keep all).")
    public var maxLag = Limit<UInt64>(nil, off: "none")
    @Option(help: "Times each chunk may be trained on.") public var maxReuse = 1
    @Option(help: "Batch order: fifo, or newest-first (priority: newest step version − k × uses, see --priority-k).") public var order = BufferOrder.fifo
    @Option(help: "Reuse penalty k of the newest-first priority.") public var priorityK = 0.1
    @Option(help: "Sample:insert ratio (training samples per inserted sample, in columns; or off). The faster side is blocked, nothing is dropped.")
    public var samplesPerInsert = Limit<Double>(nil, off: "off")
    @Option(help: "Error band of the sample:insert limiter, in columns.") public var ratioTolerance = 64.0
    @Option(help: "Chunks the buffer holds at most (the oldest are evicted beyond).") public var bufferCapacity = 4096
    @Option(help: "Train only on complete groups of this many chunks with the same group_id (or none).") public var groupSize = Limit<Int>(nil, off: "none")
    @Option(help: "A partial group older than this (ms) is dropped.") public var groupTimeoutMs = 30_000

    public init() {}

    func apply(to c: inout LearnerConfig) throws(ConfigError) {
        c.creditBytes = creditBytes
        c.heartbeatInterval = .milliseconds(heartbeatMs)
        c.liveness = .milliseconds(livenessMs)
        c.maxMessageBytes = maxMessageBytes
        c.weightsPartBytes = weightsPartBytes
        c.maxWorkers = maxWorkers
        c.memoryBudgetBytes = memoryBudgetBytes
        c.maxChunkSteps = maxChunkSteps
        c.degradedAfterSkips = degradedAfterSkips
        if let syncOffset, injectLag != 0, syncOffset != injectLag {
            throw ConfigError("--sync-offset \(syncOffset) and --inject-lag \(injectLag) disagree (they are the same setting)")
        }
        c.injectLag = syncOffset ?? injectLag
        guard syncInterval >= 1 else { throw ConfigError("--sync-interval must be at least 1") }
        c.weightsSync = offline ? .offline : syncInterval == 1 ? nil : .interval(syncInterval)
        c.buffer.eta = eta.value
        if let lagTarget { c.buffer.lagTarget = lagTarget.value }
        c.buffer.policy.maxLag = maxLag.value
        c.buffer.policy.maxReuse = maxReuse
        c.buffer.policy.order = order == .fifo ? .fifo : .newestFirst(k: priorityK)
        c.buffer.policy.samplesPerInsert = samplesPerInsert.value
        c.buffer.policy.ratioTolerance = ratioTolerance
        c.buffer.policy.capacity = bufferCapacity
        c.buffer.policy.groupSize = groupSize.value
        c.buffer.policy.groupTimeout = .milliseconds(groupTimeoutMs)
    }
}

public struct StandInOptions: ParsableArguments {
    @Option(help: "Stand-in trainer: a new policy version every N consumed chunks.") public var chunksPerVersion = 8
    @Option(help: "Stand-in trainer: parameter bytes per version.") public var parameterBytes = 64 * 1024
    public init() {}
}
