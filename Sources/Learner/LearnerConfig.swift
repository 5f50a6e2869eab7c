import Environments
import Foundation
import Protocol

/// Everything a learner run is configured with. Every field has a working default.
public struct LearnerConfig: Sendable {
    /// Identifies the run; chunks naming another run are refused. Random when empty.
    public var runID = ""
    /// Data ROUTER endpoints (workers' DEALERs connect here). `*` binds an ephemeral port.
    public var dataEndpoints = ["tcp://*:5555"]
    /// Weights PUB endpoints (WeightsAvailable announcements).
    public var weightsEndpoints = ["tcp://*:5556"]
    /// Control ROUTER endpoints (GetWeights, StatusRequest).
    public var controlEndpoints = ["tcp://*:5557"]
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
    /// Environment ids this learner trains on; empty accepts any.
    public var acceptedEnvIDs: [String] = []
    /// What the trainer learns: a gymnasium id (CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1) runs
    /// the V-trace trainer; "synthetic" runs the stand-in trainer, which only exercises the
    /// protocol (versions, weights, credits) for transport tests and benchmarks.
    public var envID = "synthetic"
    /// The V-trace trainer's settings (network, optimizer, loss, stopping rule).
    public var training = VTraceTrainer.Settings()
    /// OpenBLAS threads for the trainer (two do not help at these sizes).
    public var blasThreads = 1
    /// Where training runs keep their files (`ROOT/RUN_ID/`); nil writes none.
    public var runsRoot: String? = nil
    /// A metrics.jsonl line every this many updates.
    public var metricsEvery = 10

    /// The configuration as written to a run's config.json.
    public func describe(runID: String) -> [String: Any] {
        [
            "run_id": runID, "env_id": envID, "data": dataEndpoints, "weights": weightsEndpoints, "control": controlEndpoints,
            "unroll_length": unrollLength, "max_credits": maxCredits, "credit_bytes": creditBytes,
            "heartbeat_ms": heartbeatInterval.milliseconds, "liveness_ms": liveness.milliseconds,
            "max_message_bytes": maxMessageBytes, "hidden": training.hidden, "activation": training.activation.rawValue,
            "learning_rate": training.learningRate, "max_grad_norm": training.maxGradNorm, "gamma": training.gamma,
            "entropy_cost": training.entropyCost, "baseline_cost": training.baselineCost, "reward_scale": training.rewardScale, "batch_columns": training.batchColumns,
            "target_return": training.targetReturn as Any? ?? NSNull(), "max_updates": training.maxUpdates as Any? ?? NSNull(),
            "seed": training.seed, "blas_threads": blasThreads, "correction": "vtrace", "rho_bar": 1.0, "c_bar": 1.0,
        ]
    }
    /// The stand-in trainer (until the learning core lands): a new policy version every
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
        if envID != "synthetic" {
            guard EnvironmentRegistry.info(envID) != nil else {
                throw ConfigError("unknown environment '\(envID)'; known: synthetic, \(EnvironmentRegistry.ids.joined(separator: ", "))")
            }
        }
        if training.batchColumns < 1 { throw ConfigError("batch columns must be at least 1") }
        if training.learningRate <= 0 { throw ConfigError("learning rate must be positive") }
        if !(training.rewardScale > 0) { throw ConfigError("reward scale must be positive") }
        if training.hidden.isEmpty || training.hidden.contains(where: { $0 < 1 }) { throw ConfigError("hidden sizes must be positive") }
        if blasThreads < 1 { throw ConfigError("BLAS threads must be at least 1") }
    }
}

/// An invalid configuration value.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
