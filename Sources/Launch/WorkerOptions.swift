import ArgumentParser
import Environments
import Learner
import Logging
import Rollout
import Transport

/// Every flag of `rollout-worker`; `config()` maps them onto a `WorkerConfig`.
public struct WorkerOptions: ParsableArguments {
    @Option(help: "The learner: HOST, or HOST:PORT with PORT its data port (weights and control then PORT+1 and PORT+2, the learner's own layout). [v6]:PORT for IPv6.")
    public var learner = "127.0.0.1"
    @Option(help: "Learner data port (when --learner has none).") public var dataPort = 5555
    @Option(help: "Learner weights port (default: the data port + 1).") public var weightsPort: Int?
    @Option(help: "Learner control port (default: the data port + 2).") public var controlPort: Int?
    @Option(help: "Data endpoint, overriding --learner/--data-port.") public var data: String?
    @Option(help: "Weights endpoint, overriding --learner/--weights-port.") public var weights: String?
    @Option(help: "Control endpoint, overriding --learner/--control-port.") public var control: String?
    @Option(help: "Worker id, stable across restarts (default HOST/PID).") public var workerId: String?
    @Option(help: "Environment: CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1, a sequence task (addrev, add, add3, reach), or synthetic (random data).") public var env = "synthetic"
    @Option(help: "Environment copies stepped together; for a sequence task, answers sampled per prompt (the group size K).") public var numEnvs: UInt32 = 8
    @Option(help: "Sequence tasks: prompts sampled together per round (prompts x K answers per forward pass).") public var promptsPerRound = 16
    @Option(help: "Synthetic environment: floats per observation.") public var observationSize = 4
    @Option(help: "Sessions in this process, each a worker of its own to the learner (id ID#i, seed + i), all on one socket thread: many workers without a process each.")
    public var sessions = 1
    @Option(help: "Stop after sending this many chunks (per session).") public var maxChunks: UInt64?
    @Option(help: "Pause between chunks in milliseconds.") public var chunkIntervalMs: Int?
    @Option(help: "Wait this long (ms) for Welcome before retrying.") public var helloTimeoutMs = 2000
    @Option(help: "First reconnect backoff (ms); doubles up to --backoff-max-ms.") public var backoffInitialMs = 100
    @Option(help: "Largest reconnect backoff (ms).") public var backoffMaxMs = 5000
    @Option(help: "Protocol versions to offer (testing version skew).") public var protocolVersion: [UInt32] = []
    @Option(help: "Header version to write (testing version skew).") public var headerVersion: UInt8?
    @Option(help: "Seed of the environments, the action sampling and the synthetic data (default: derived from the worker id and incarnation, different for every worker process).")
    public var seed: UInt64?
    @Option(help: "OpenBLAS threads for the policy's forward pass (more do not help at acting batch sizes).") public var blasThreads = 1
    @Option(help: "CURVE: the learner's public key file (its NAME.key).") public var curveServerKey: String?
    @Option(help: "CURVE: this worker's secret key file (NAME.key_secret from `tributary keys generate`).") public var curveSecretKey: String?
    @Flag(help: "Print a JSON line for every chunk sent.") public var traceChunks = false
    @Flag(help: "Print a JSON line (acting_with) whenever acting switches to a newer policy version.") public var traceVersions = false
    @Option(name: .customLong("config"), help: "A YAML file of settings: the keys are these flags without -- (learner: 10.0.0.5). Flags and TRIBUTARY_* variables override it. Also TRIBUTARY_CONFIG.")
    public var configFile: String?
    @Flag(help: "Print the resolved configuration as a config file and exit.") public var printConfig = false
    @Option(help: "Log level: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")).") public var logLevel = Logger.Level.info

    public init() {}

    /// `--learner`'s host and, when given, its data port: `host`, `host:6000`, `[::1]:6000`, `::1`.
    static func hostAndPort(_ value: String) throws(ConfigError) -> (String, Int?) {
        if value.contains("://") {
            throw ConfigError("--learner takes HOST or HOST:PORT, not an endpoint ('\(value)'); give endpoints with --data, --weights and --control")
        }
        var host = value, port: Substring?
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
            host = String(value[...close])
            let rest = value[value.index(after: close)...]
            if rest.hasPrefix(":") { port = rest.dropFirst() } else if !rest.isEmpty { throw ConfigError("--learner: cannot read '\(value)' as [HOST]:PORT") }
        } else if value.filter({ $0 == ":" }).count == 1, let colon = value.firstIndex(of: ":") {
            host = String(value[..<colon])
            port = value[value.index(after: colon)...]
        }
        guard !host.isEmpty, host != "[]" else { throw ConfigError("--learner needs a host, not '\(value)'") }
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }  // a bare IPv6 address
        guard let port else { return (host, nil) }
        guard let p = Int(port), (1...65533).contains(p) else {
            throw ConfigError("--learner: the port in '\(value)' must be a number in 1…65533 (the data port; weights and control are the next two)")
        }
        return (host, p)
    }

    public func config() throws(ConfigError) -> WorkerConfig {
        var c = WorkerConfig()
        let (host, port) = try Self.hostAndPort(learner)
        let dataP = port ?? dataPort
        let ports = (dataP, weightsPort ?? dataP + 1, controlPort ?? dataP + 2)
        for (flag, port) in [("data-port", ports.0), ("weights-port", ports.1), ("control-port", ports.2)] where !(1...65535).contains(port) {
            throw ConfigError("--\(flag) must be a port number in 1…65535, not \(port)")
        }
        c.dataEndpoint = data ?? "tcp://\(host):\(ports.0)"
        c.weightsEndpoint = weights ?? "tcp://\(host):\(ports.1)"
        c.controlEndpoint = control ?? "tcp://\(host):\(ports.2)"
        if let workerId { c.workerID = workerId }
        guard blasThreads >= 1 else { throw ConfigError("--blas-threads must be at least 1") }
        guard numEnvs > 0 else { throw ConfigError("--num-envs must be at least 1") }
        guard observationSize > 0 else { throw ConfigError("--observation-size must be at least 1") }
        guard promptsPerRound > 0 else { throw ConfigError("--prompts-per-round must be at least 1") }
        guard (1...1024).contains(sessions) else { throw ConfigError("--sessions must be in 1…1024, not \(sessions)") }
        c.sessions = sessions
        c.numEnvs = numEnvs
        c.promptsPerRound = promptsPerRound
        c.envID = env
        c.observationSize = observationSize
        c.maxChunks = maxChunks
        c.chunkInterval = chunkIntervalMs.map { .milliseconds($0) }
        c.helloTimeout = .milliseconds(helloTimeoutMs)
        guard backoffInitialMs > 0, backoffMaxMs >= backoffInitialMs else {
            throw ConfigError("need 0 < --backoff-initial-ms <= --backoff-max-ms")
        }
        c.backoffInitial = .milliseconds(backoffInitialMs)
        c.backoffMax = .milliseconds(backoffMaxMs)
        if !protocolVersion.isEmpty { c.protocolVersions = protocolVersion }
        if let headerVersion { c.headerVersion = headerVersion }
        c.seed = seed
        do throws(KeyFileError) {
            c.keys = try ClientKeys.load(serverKeyFile: curveServerKey, secretKeyFile: curveSecretKey)
        } catch {
            throw ConfigError(error.description)
        }
        return c
    }
}

/// `learner --local-workers N`: rollout workers inside the learner's process, over inproc://
/// on the learner's own socket thread (Sample Factory's serial mode, for debugging with one
/// process and one debugger). The learner still binds its usual endpoints too.
public struct LocalWorkerOptions: ParsableArguments {
    @Option(help: "Rollout workers to run inside this process over inproc:// (0: none; for debugging).") public var localWorkers = 0
    @Option(help: "Environment copies per in-process worker (16; for a sequence task the group size K, 8).") public var localNumEnvs: UInt32?

    public init() {}

    /// The in-process workers' configurations, for a learner configured as `learner`.
    public func workers(for learner: LearnerConfig) -> [WorkerConfig] {
        (0..<localWorkers).map { i in
            var w = WorkerConfig()
            w.dataEndpoint = learner.dataEndpoints.first { $0.hasPrefix("inproc://") } ?? learner.dataEndpoints[0]
            w.weightsEndpoint = learner.weightsEndpoints.first { $0.hasPrefix("inproc://") } ?? learner.weightsEndpoints[0]
            w.controlEndpoint = learner.controlEndpoints.first { $0.hasPrefix("inproc://") } ?? learner.controlEndpoints[0]
            w.workerID = "local-\(i)"
            w.envID = learner.envID
            w.observationSize = learner.syntheticObservationSize
            w.numEnvs = localNumEnvs ?? (EnvironmentRegistry.sequenceTask(learner.envID) != nil ? 8 : 16)
            w.seed = learner.training.seed &+ UInt64(i) &+ 1
            w.heartbeatInterval = learner.heartbeatInterval
            w.liveness = learner.liveness
            return w
        }
    }
}
