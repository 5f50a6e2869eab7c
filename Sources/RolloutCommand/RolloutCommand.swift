import ArgumentParser
import Foundation
import Logging
import NeuralNet
import Protocol
import Rollout
import ServiceLifecycle
import Transport

/// `rollout-worker`: acts in environments and streams chunks to a learner.
@main
struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout-worker",
        abstract: "Run a Tributary rollout worker that streams trajectories to a learner.",
        discussion: """
            Reconnects (as a new incarnation) whenever the learner goes away. Prints a JSON line per \
            session and a summary at exit; logs go to stderr. Exit codes: 2, the learner refused this \
            worker's configuration (environment, sizes); 3, its protocol version; 4, its key (CURVE).
            """)

    @Option(help: "Learner host (used with the ports).") var learner = "127.0.0.1"
    @Option(help: "Learner data port.") var dataPort = 5555
    @Option(help: "Learner weights port.") var weightsPort = 5556
    @Option(help: "Learner control port.") var controlPort = 5557
    @Option(help: "Data endpoint, overriding --learner/--data-port.") var data: String?
    @Option(help: "Weights endpoint, overriding --learner/--weights-port.") var weights: String?
    @Option(help: "Control endpoint, overriding --learner/--control-port.") var control: String?
    @Option(help: "Worker id, stable across restarts (default HOST/PID).") var workerId: String?
    @Option(help: "Environment: CartPole-v1, Acrobot-v1, MountainCar-v0, or synthetic (random data).") var env = "synthetic"
    @Option(help: "Environment copies stepped together.") var numEnvs: UInt32 = 8
    @Option(help: "Synthetic environment: floats per observation.") var observationSize = 4
    @Option(help: "Stop after sending this many chunks.") var maxChunks: UInt64?
    @Option(help: "Pause between chunks in milliseconds.") var chunkIntervalMs: Int?
    @Option(help: "Wait this long (ms) for Welcome before retrying.") var helloTimeoutMs = 2000
    @Option(help: "First reconnect backoff (ms); doubles up to --backoff-max-ms.") var backoffInitialMs = 100
    @Option(help: "Largest reconnect backoff (ms).") var backoffMaxMs = 5000
    @Option(help: "Protocol versions to offer (testing version skew).") var protocolVersion: [UInt32] = []
    @Option(help: "Header version to write (testing version skew).") var headerVersion: UInt8?
    @Option(help: "Seed of the environments, the action sampling and the synthetic data.") var seed: UInt64 = 1
    @Option(help: "OpenBLAS threads for the policy's forward pass (more do not help at acting batch sizes).") var blasThreads = 1
    @Option(help: "CURVE: the learner's public key file (its NAME.key).") var curveServerKey: String?
    @Option(help: "CURVE: this worker's secret key file (NAME.key_secret from `tributary keys generate`).") var curveSecretKey: String?
    @Flag(help: "Print a JSON line for every chunk sent.") var traceChunks = false
    @Option(help: "Log level.") var logLevel = "info"

    func makeConfig() throws -> WorkerConfig {
        var c = WorkerConfig()
        c.dataEndpoint = data ?? "tcp://\(learner):\(dataPort)"
        c.weightsEndpoint = weights ?? "tcp://\(learner):\(weightsPort)"
        c.controlEndpoint = control ?? "tcp://\(learner):\(controlPort)"
        if let workerId { c.workerID = workerId }
        guard blasThreads >= 1 else { throw ValidationError("--blas-threads must be at least 1") }
        guard numEnvs > 0 else { throw ValidationError("--num-envs must be at least 1") }
        guard observationSize > 0 else { throw ValidationError("--observation-size must be at least 1") }
        c.numEnvs = numEnvs
        c.envID = env
        c.observationSize = observationSize
        c.maxChunks = maxChunks
        c.chunkInterval = chunkIntervalMs.map { .milliseconds($0) }
        c.helloTimeout = .milliseconds(helloTimeoutMs)
        guard backoffInitialMs > 0, backoffMaxMs >= backoffInitialMs else {
            throw ValidationError("need 0 < --backoff-initial-ms <= --backoff-max-ms")
        }
        c.backoffInitial = .milliseconds(backoffInitialMs)
        c.backoffMax = .milliseconds(backoffMaxMs)
        if !protocolVersion.isEmpty { c.protocolVersions = protocolVersion }
        if let headerVersion { c.headerVersion = headerVersion }
        c.seed = seed
        do throws(KeyFileError) {
            c.keys = try ClientKeys.load(serverKeyFile: curveServerKey, secretKeyFile: curveSecretKey)
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
        BLAS.threads = blasThreads
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "rollout-worker")
        let config = try makeConfig()
        let service = WorkerService(config: config, logger: logger, traceChunks: traceChunks) { event in
            FileHandle.standardOutput.write(Data((event.jsonLine + "\n").utf8))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch let error as WorkerError where error.code == .unsupportedVersion {
            FileHandle.standardError.write(Data("rollout-worker: \(error.description) (learner \(config.dataEndpoint))\n".utf8))
            throw ExitCode(3)
        } catch let error as WorkerError where error.code == .unauthorized {
            FileHandle.standardError.write(Data("rollout-worker: \(error.description)\n".utf8))
            throw ExitCode(4)
        } catch let error as WorkerError {
            FileHandle.standardError.write(Data("rollout-worker: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }
}
