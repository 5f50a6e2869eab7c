import ArgumentParser
import BuildInfo
import Events
import Foundation
import Learner
import Logging
import NeuralNet
import Rollout
import SafeIO
import ServiceLifecycle
import Transport

/// What `learner` and `rollout-worker` do once their flags are parsed: prepare the process,
/// run the service under a `ServiceGroup` (SIGINT/SIGTERM stop it gracefully), and write its
/// events to standard output, one JSON line each.
public enum Launcher {
    /// Once per process, first: OpenBLAS's kernel (may re-execute the process), a closed
    /// standard output as EPIPE rather than SIGPIPE, and logging to standard error.
    public static func prepareProcess(logLevel: Logger.Level) {
        BLASRuntime.selectKernelByReexecuting()
        StandardStream.ignoreBrokenPipes()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
    }

    /// Runs a learner until it stops (target, limit or signal); with `localWorkers`, those
    /// workers run inside this process over inproc://.
    /// `layers`: where the flags came from; the run directory's config.yaml is written from them.
    public static func runLearner(_ given: LearnerConfig, localWorkers options: LocalWorkerOptions = LocalWorkerOptions(),
                                  layers: ConfigLayers? = nil, traceVersions: Bool = false) async throws {
        let logger = Logger(label: "learner")
        // A resumed run's configuration comes from its checkpoint; local workers follow it.
        var config = given
        var resumed: Checkpoint?
        if given.resumeRunDirectory != nil {
            do {
                (config, resumed) = try LearnerService.resume(given, logger: logger)
            } catch {
                StandardStream.error.writeLine("learner: \(error.description)")
                throw ExitCode.validationFailure
            }
        }
        let localWorkers = options.workers(for: config)
        var inProcess: (@Sendable (SocketReactor) async -> Void)?
        if !localWorkers.isEmpty {
            logger.info("\(localWorkers.count) in-process worker(s) over \(localWorkers[0].dataEndpoint)")
            inProcess = { reactor in
                await withTaskGroup(of: Void.self) { group in
                    for w in localWorkers {
                        group.addTask {
                            let workerLogger = Logger(label: "worker \(w.workerID)")
                            do {
                                try await WorkerService(config: w, logger: workerLogger, reactor: reactor) { _ in }.run()
                            } catch {
                                workerLogger.error("in-process worker stopped: \(error)")
                            }
                        }
                    }
                }
            }
        }
        let resolved = config
        let repeatable = layers.map { layers in { @Sendable (ready: LearnerReady) in repeatableConfig(layers, config: resolved, ready: ready) } }
        let service = LearnerService(config: config, logger: logger, resumed: resumed, inProcessWorkers: inProcess,
                                     repeatableConfig: repeatable, traceVersions: traceVersions) { event in
            StandardStream.output.writeLine(event.jsonLine)
        }
        do {
            try await run(service, logger: logger)
        } catch let error as ConfigError {
            // A setting that cannot work here (a port in use, a run directory that cannot be
            // written): one line and exit code 64, as for an invalid flag, before `ready`.
            StandardStream.error.writeLine("learner: \(error.description)")
            throw ExitCode.validationFailure
        }
    }

    /// Runs a worker until it stops; a refusal it cannot fix becomes its exit code (2: its
    /// configuration, 3: its protocol version, 4: its key), with the reason on standard error.
    public static func runWorker(_ config: WorkerConfig, traceChunks: Bool = false, traceVersions: Bool = false) async throws {
        let trace = WorkerTrace(chunks: traceChunks, versions: traceVersions)
        let logger = Logger(label: "rollout-worker")
        let service = WorkerService(config: config, logger: logger, trace: trace) { event in
            StandardStream.output.writeLine(event.jsonLine)
        }
        do {
            try await run(service, logger: logger)
        } catch let error as WorkerError {
            let (code, suffix): (Int32, String) = switch error.code {
            case .unsupportedVersion: (3, " (learner \(config.dataEndpoint))")
            case .unauthorized: (4, "")
            default: (2, "")
            }
            StandardStream.error.writeLine("rollout-worker: \(error.description)\(suffix)")
            throw ExitCode(code)
        }
    }

    /// `learner --print-config`: every setting as a config file, each that is not a default
    /// annotated with where it came from.
    public static func printableConfig(_ layers: ConfigLayers, config: LearnerConfig) -> String {
        let preset = LearnerOptions.presetValues(of: config).filter { layers.settings[$0.key] == nil }
            .mapValues { (values: $0, source: "preset of \(config.envID)") }
        let files = layers.file.map { "config file \($0)" } ?? "no config file"
        return layers.yaml(resolved: preset, annotated: true, header: """
            learner configuration as resolved (\(BuildInfo.versionLine)): \(files).
            Precedence: flags > TRIBUTARY_* environment > config file > the environment's preset > defaults.
            """)
    }

    /// A run directory's config.yaml: this run's settings with the preset's values and the ports
    /// actually bound, without the run id (repeating the run starts a new one).
    static func repeatableConfig(_ layers: ConfigLayers, config: LearnerConfig, ready: LearnerReady) -> String {
        var resolved = LearnerOptions.presetValues(of: config).mapValues { (values: $0, source: "preset") }
        let bound = [("data", ready.data), ("weights", ready.weights), ("control", ready.control)]
        for (name, endpoints) in bound {
            let network = endpoints.filter { !$0.hasPrefix("inproc://") }
            if !(layers.settings[name]?.values.isEmpty ?? true) {
                resolved[name] = (network, "bound")
            } else if let port = network.first.flatMap({ $0.split(separator: ":").last }).map(String.init) {
                resolved["\(name)-port"] = ([port], "bound")
            }
        }
        if let port = ready.metrics?.split(separator: ":").last.map(String.init) { resolved["metrics-port"] = ([port], "bound") }
        return layers.yaml(resolved: resolved, omit: ["run-id", "resume"], header: """
            Tributary learner settings of run \(ready.runID) (\(BuildInfo.versionLine)), with the ports it bound.
            Repeat the run (a new run id): learner --config \(config.runsRoot.map { "\($0)/\(ready.runID)" } ?? ".")/config.yaml
            """)
    }

    /// OpenBLAS threads of this process (the worker's forward pass).
    public static func setBLASThreads(_ n: Int) { BLAS.threads = n }

    static func run(_ service: some Service, logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
