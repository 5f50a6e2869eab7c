import ArgumentParser
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
    public static func runLearner(_ given: LearnerConfig, localWorkers options: LocalWorkerOptions = LocalWorkerOptions()) async throws {
        let logger = Logger(label: "learner")
        // A resumed run's configuration comes from its checkpoint; local workers follow it.
        var config = given
        var resumed: Checkpoint?
        if given.resumeRunDirectory != nil { (config, resumed) = try LearnerService.resume(given, logger: logger) }
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
        let service = LearnerService(config: config, logger: logger, resumed: resumed, inProcessWorkers: inProcess) { event in
            StandardStream.output.writeLine(event.jsonLine)
        }
        try await run(service, logger: logger)
    }

    /// Runs a worker until it stops; a refusal it cannot fix becomes its exit code (2: its
    /// configuration, 3: its protocol version, 4: its key), with the reason on standard error.
    public static func runWorker(_ config: WorkerConfig, traceChunks: Bool) async throws {
        let logger = Logger(label: "rollout-worker")
        let service = WorkerService(config: config, logger: logger, traceChunks: traceChunks) { event in
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
