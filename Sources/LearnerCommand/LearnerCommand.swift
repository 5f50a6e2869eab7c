import ArgumentParser
import Corrections
import Training
import Foundation
import Learner
import NeuralNet
import Logging
import ServiceLifecycle

/// `learner`: binds the data, weights and control sockets and trains on what workers send.
@main
struct LearnerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner",
        abstract: "Run a Tributary learner: workers connect to it and stream trajectories.",
        discussion: """
            Prints one JSON line when ready (the bound endpoints) and one when done (the summary); \
            logs go to stderr. Stops on SIGINT/SIGTERM, or after --max-chunks.
            """)

    @Option(help: "Interface to bind (used with the ports; '*' is every interface). Anything but loopback needs CURVE (--curve-secret-key, --allow-keys) or --insecure.")
    var bind = "127.0.0.1"
    @Option(help: "Data ROUTER port (0: an ephemeral port).") var dataPort = 5555
    @Option(help: "Weights PUB port.") var weightsPort = 5556
    @Option(help: "Control ROUTER port.") var controlPort = 5557
    @Option(help: "Data endpoint(s), overriding --bind/--data-port (e.g. ipc:///tmp/trib-data).")
    var data: [String] = []
    @Option(help: "Weights endpoint(s), overriding --bind/--weights-port.") var weights: [String] = []
    @Option(help: "Control endpoint(s), overriding --bind/--control-port.") var control: [String] = []
    @Option(help: "Run id (random when omitted).") var runId = ""
    @Option(help: "Steps per chunk (T) that workers send.") var unrollLength: UInt32 = 32
    @Option(help: "Most chunks a worker may have in flight (default: the environment's preset; 32 for CartPole-v1).") var credits: UInt32?
    @Option(help: "Bytes of chunks a worker may have in flight (credits = this / chunk size, 2…--credits).")
    var creditBytes = 32 << 20
    @Option(help: "Heartbeat interval in milliseconds.") var heartbeatMs = 500
    @Option(help: "Silence (ms) after which a worker is expired.") var livenessMs = 5000
    @Option(help: "Largest accepted message in bytes.") var maxMessageBytes = 64 << 20
    @Option(help: "Weights snapshots above this many bytes travel in parts.") var weightsPartBytes = 1 << 20
    @Option(help: "Environment to learn: CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1, or synthetic (stand-in trainer). Sets the hyper-parameter preset.")
    var env = "synthetic"
    @Option(help: "Hidden layer sizes of the network, comma-separated.") var hidden = "64,64"
    @Option(help: "Adam learning rate (default: the environment's preset; 3e-3 for CartPole-v1).") var learningRate: Float?
    @Option(help: "Entropy bonus coefficient (default: the environment's preset; 0.001 for CartPole-v1).") var entropyCost: Float?
    @Option(help: "Discount γ (default: the environment's preset; 0.99 for CartPole-v1).") var gamma: Double?
    @Option(help: "Rewards are multiplied by this in the loss; returns are reported unscaled (default: the preset; 1).") var rewardScale: Double?
    @Option(help: "Weight of the value loss (default: the preset; 0.5).") var baselineCost: Float?
    @Option(help: "Environment columns (B) per update (default: the preset; 16 for CartPole-v1).") var batchColumns: Int?
    @Option(help: "Stop when the mean return of the last 100 episodes reaches this.") var targetReturn: Double?
    @Option(help: "Stop after this many updates.") var maxUpdates: UInt64?
    @Option(help: "Seed of the network's initialisation.") var seed: UInt64 = 1
    @Option(help: "OpenBLAS threads.") var blasThreads = 1
    @Option(help: "Training runs write config.json, metrics.jsonl, TensorBoard event files and the final parameters to RUNS/RUN_ID ('' for none).")
    var runs = "runs"
    @Option(help: "A metrics.jsonl line (and TensorBoard event) every N updates.") var metricsEvery = 10
    @Option(help: "With --env synthetic: floats per observation that workers must send.") var observationSize = 4
    @Option(help: "Worker sessions admitted at once (a Hello beyond is refused).") var maxWorkers = 1024
    @Option(help: "Chunk bytes held at most, all workers together: credits in flight plus the buffer.") var memoryBudgetBytes = 512 << 20
    @Option(help: "Steps (T × B) of one chunk at most (a Hello whose num_envs makes larger chunks is refused).") var maxChunkSteps = 1 << 16
    @Option(help: "/healthz reports degraded after this many updates in a row were skipped (non-finite loss or gradient).") var degradedAfterSkips = 10
    @Option(help: "Stand-in trainer: a new policy version every N consumed chunks.") var chunksPerVersion = 8
    @Option(help: "Stand-in trainer: parameter bytes per version.") var parameterBytes = 64 * 1024
    @Option(help: "Stop after consuming this many chunks.") var maxChunks: UInt64?
    @Option(help: "Off-policy correction: vtrace, ppo, tis-ppo, decoupled-ppo or appo (docs/staleness.md).") var correction = "vtrace"
    @Option(help: "V-trace ρ̄ (vtrace, appo).") var rhoBar = 1.0
    @Option(help: "V-trace c̄ (vtrace, appo).") var cBar = 1.0
    @Option(help: "V-trace λ (vtrace, appo).") var vtraceLambda = 1.0
    @Option(help: "V-trace ρ̄ of the policy-gradient advantage.") var pgRhoBar = 1.0
    @Option(help: "V-trace advantage form for λ < 1: paper or rlax.") var vtraceForm = "paper"
    @Option(help: "PPO clip ε_low (ppo, tis-ppo, decoupled-ppo).") var clipLow = 0.2
    @Option(help: "PPO clip ε_high (clip-higher when above --clip-low).") var clipHigh = 0.2
    @Option(help: "Dual-clip c for negative advantages, > 1 ('off').") var dualClip = "3"
    @Option(help: "tis-ppo: cap C of the truncated importance weight π_prox/μ.") var tisCap = 2.0
    @Option(help: "tis-ppo: weight level: token, sequence or geometric.") var tisLevel = "token"
    @Flag(help: "tis-ppo: mask samples whose ratio is outside [1/C, C] instead of capping the weight at C.") var tisMask = false
    @Option(help: "decoupled-ppo: behaviour weights π_prox/μ above this are filtered to 0 ('off').") var behaviourCap = "5"
    @Option(help: "appo: surrogate clip.") var appoClip = 0.4
    @Option(help: "appo: refresh the target network every this many batches.") var targetUpdateEvery = 4
    @Option(help: "GAE λ (ppo, tis-ppo, decoupled-ppo).") var gaeLambda = 0.95
    @Option(help: "Clip of the value loss around the proximal values ('off').") var valueClip = "off"
    @Option(help: "PPO family: passes over each batch.") var epochs = 2
    @Option(help: "PPO family: minibatches per pass (whole environment columns).") var minibatches = 2
    @Option(help: "Controlled staleness (experiments): offer workers the weights this many versions older than the learner's.")
    var injectLag: UInt64 = 0
    @Option(help: "Staleness bound η on admission: credits go out only while untrained plus in-flight columns stay within (η + 1) × batch columns (0: synchronous; 'unbounded').")
    var eta = "unbounded"
    @Option(help: "Drop chunks with a step more than this many versions old when a batch is formed ('none': keep all).")
    var maxLag = "none"
    @Option(help: "Times each chunk may be trained on.") var maxReuse = 1
    @Option(help: "Batch order: fifo, or newest-first (priority: newest step version − k × uses, see --priority-k).")
    var order = "fifo"
    @Option(help: "Reuse penalty k of the newest-first priority.") var priorityK = 0.1
    @Option(help: "Sample:insert ratio (training samples per inserted sample, in columns; 'off'). The faster side is blocked, nothing is dropped.")
    var samplesPerInsert = "off"
    @Option(help: "Error band of the sample:insert limiter, in columns.") var ratioTolerance = 64.0
    @Option(help: "Chunks the buffer holds at most (the oldest are evicted beyond).") var bufferCapacity = 4096
    @Option(help: "Train only on complete groups of this many chunks with the same group_id ('none').") var groupSize = "none"
    @Option(help: "A partial group older than this (ms) is dropped.") var groupTimeoutMs = 30_000
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "HTTP port of Prometheus /metrics and /healthz (0: an ephemeral port).") var metricsPort = 5558
    @Option(help: "Interface of /metrics (default 127.0.0.1; '*' is every interface). /metrics has no authentication.") var metricsBind = "127.0.0.1"
    @Option(help: "CURVE: the learner's secret key file (NAME.key_secret from `tributary keys generate`).") var curveSecretKey: String?
    @Option(help: "CURVE: the public keys allowed in, a NAME.key file or a directory of them (reloaded on SIGHUP).") var allowKeys: String?
    @Flag(help: "Allow plaintext on a non-loopback bind: anyone who reaches the ports can send data and read the weights.") var insecure = false
    @Flag(help: "Serve no /metrics and /healthz.") var noMetrics = false
    @Flag(help: "No progress bar, even on a terminal (log lines instead).") var noProgress = false

    func makeConfig() throws -> LearnerConfig {
        func endpoints(_ explicit: [String], _ port: Int) -> [String] {
            explicit.isEmpty ? ["tcp://\(bind):\(port == 0 ? "*" : String(port))"] : explicit
        }
        var c = LearnerConfig()
        c.runID = runId
        c.dataEndpoints = endpoints(data, dataPort)
        c.weightsEndpoints = endpoints(weights, weightsPort)
        c.controlEndpoints = endpoints(control, controlPort)
        c.unrollLength = unrollLength
        let preset = TrainingPresets.preset(for: env)
        c.training = preset.training
        c.maxCredits = credits ?? preset.maxCredits
        c.creditBytes = creditBytes
        c.heartbeatInterval = .milliseconds(heartbeatMs)
        c.liveness = .milliseconds(livenessMs)
        c.maxMessageBytes = maxMessageBytes
        c.weightsPartBytes = weightsPartBytes
        c.envID = env
        c.syntheticObservationSize = observationSize
        c.maxWorkers = maxWorkers
        c.memoryBudgetBytes = memoryBudgetBytes
        c.maxChunkSteps = maxChunkSteps
        c.degradedAfterSkips = degradedAfterSkips
        guard let sizes = Optional(hidden.split(separator: ",").compactMap { Int($0) }), !sizes.isEmpty,
              sizes.count == hidden.split(separator: ",").count
        else { throw ValidationError("--hidden takes comma-separated sizes, e.g. 64,64") }
        c.training.hidden = sizes
        if let learningRate { c.training.learningRate = learningRate }
        if let entropyCost { c.training.entropyCost = entropyCost }
        if let gamma { c.training.gamma = gamma }
        if let rewardScale { c.training.rewardScale = rewardScale }
        if let baselineCost { c.training.baselineCost = baselineCost }
        if let batchColumns { c.training.batchColumns = batchColumns }
        c.training.targetReturn = targetReturn
        c.training.maxUpdates = maxUpdates
        c.training.seed = seed
        c.blasThreads = blasThreads
        func optionalNumber<T: LosslessStringConvertible>(_ text: String, _ none: String, _ flag: String) throws -> T? {
            if text == none { return nil }
            guard let v = T(text) else { throw ValidationError("--\(flag) takes a number or '\(none)', not '\(text)'") }
            return v
        }
        guard let chosen = Correction(rawValue: correction) else {
            throw ValidationError("--correction is one of \(Correction.allCases.map(\.name).joined(separator: ", ")), not '\(correction)'")
        }
        c.training.correction = chosen
        var k = CorrectionSettings()
        k.vtrace.rhoBar = rhoBar
        k.vtrace.cBar = cBar
        k.vtrace.lambda = vtraceLambda
        k.vtrace.pgRhoBar = pgRhoBar
        guard let form = VTrace.AdvantageForm(rawValue: vtraceForm) else { throw ValidationError("--vtrace-form is paper or rlax") }
        k.vtrace.advantageForm = form
        k.ppo.epsLow = clipLow
        k.ppo.epsHigh = clipHigh
        k.ppo.dualClip = try optionalNumber(dualClip, "off", "dual-clip")
        k.decoupled.epsLow = clipLow
        k.decoupled.epsHigh = clipHigh
        k.decoupled.behaviourCap = try optionalNumber(behaviourCap, "off", "behaviour-cap")
        k.tis.cap = tisCap
        guard let level = TruncatedIS.Level(rawValue: tisLevel) else { throw ValidationError("--tis-level is token, sequence or geometric") }
        k.tis.level = level
        k.tisMask = tisMask
        k.appo.clip = appoClip
        k.targetUpdateEvery = targetUpdateEvery
        k.gaeLambda = gaeLambda
        k.valueClip = try optionalNumber(valueClip, "off", "value-clip")
        k.epochs = epochs
        k.minibatches = minibatches
        c.training.corrections = k
        c.injectLag = injectLag
        c.buffer.eta = try optionalNumber(eta, "unbounded", "eta")
        c.buffer.policy.maxLag = try optionalNumber(maxLag, "none", "max-lag")
        c.buffer.policy.maxReuse = maxReuse
        switch order {
        case "fifo": c.buffer.policy.order = .fifo
        case "newest-first": c.buffer.policy.order = .newestFirst(k: priorityK)
        default: throw ValidationError("--order is fifo or newest-first, not '\(order)'")
        }
        c.buffer.policy.samplesPerInsert = try optionalNumber(samplesPerInsert, "off", "samples-per-insert")
        c.buffer.policy.ratioTolerance = ratioTolerance
        c.buffer.policy.capacity = bufferCapacity
        c.buffer.policy.groupSize = try optionalNumber(groupSize, "none", "group-size")
        c.buffer.policy.groupTimeout = .milliseconds(groupTimeoutMs)
        c.runsRoot = runs.isEmpty ? nil : runs
        // A bar redrawn in place only makes sense on a terminal that shows info-level output.
        c.progressBar = !noProgress && isatty(STDERR_FILENO) == 1 && (Logger.Level(rawValue: logLevel) ?? .info) <= .info
        if !noMetrics {
            guard let port = UInt16(exactly: metricsPort) else { throw ValidationError("--metrics-port must be 0…65535") }
            c.metrics = .init(host: metricsBind == "*" ? "0.0.0.0" : metricsBind, port: port)
        }
        switch (curveSecretKey, allowKeys) {
        case (let key?, let allowed?): c.curve = .init(secretKeyFile: key, allowKeys: allowed)
        case (nil, nil): break
        case (_?, nil): throw ValidationError("--curve-secret-key needs --allow-keys (the workers' and operators' public keys)")
        case (nil, _?): throw ValidationError("--allow-keys needs --curve-secret-key (the learner's own secret key)")
        }
        c.insecure = insecure
        c.metricsEvery = metricsEvery
        c.chunksPerVersion = chunksPerVersion
        c.parameterBytes = parameterBytes
        c.maxChunks = maxChunks
        do {
            try c.validate()
        } catch {
            throw ValidationError(error.description)
        }
        return c
    }

    func validate() throws {
        _ = try makeConfig()
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
    }

    func run() async throws {
        BLASRuntime.selectKernelByReexecuting()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "learner")
        let service = LearnerService(config: try makeConfig(), logger: logger) { event in
            FileHandle.standardOutput.write(Data((event.jsonLine + "\n").utf8))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
