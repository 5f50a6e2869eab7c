import Foundation
import Protocol

// The events of the three executables, as printed on stdout (one JSON object per line). Field
// names are the JSON keys; every reader (demo, tests, benchmark scripts with jq) uses these.

// MARK: learner

/// The learner's sockets are bound: the endpoints actually bound (ephemeral ports filled in).
/// Printed after every start-up step that can fail.
public struct LearnerReady: EventRecord, Equatable {
    public static let name = "ready"
    public var runID: String
    public var data: [String]
    public var weights: [String]
    public var control: [String]
    /// Base URL of /metrics and /healthz; nil when none is served.
    public var metrics: String?

    public init(runID: String, data: [String], weights: [String], control: [String], metrics: String?) {
        (self.runID, self.data, self.weights, self.control, self.metrics) = (runID, data, weights, control, metrics)
    }

    enum CodingKeys: String, CodingKey { case runID = "run_id", data, weights, control, metrics }
}

/// The run ended: the final status (every counter, every worker) and the transport's totals.
public struct LearnerSummary: EventRecord, Equatable {
    public static let name = "summary"
    /// From the first accepted chunk to the last consumed one.
    public var ingestSeconds: Double
    /// Set when the trainer reached its target return.
    public var solved: Solved?
    public var runDirectory: String?
    @WireJSONValue public var status: Tributary_V1_StatusReply
    public var transport: TransportTotals

    public init(ingestSeconds: Double, solved: Solved?, runDirectory: String?, status: Tributary_V1_StatusReply, transport: TransportTotals) {
        self.ingestSeconds = ingestSeconds
        self.solved = solved
        self.runDirectory = runDirectory
        self.status = status
        self.transport = transport
    }

    enum CodingKeys: String, CodingKey {
        case ingestSeconds = "ingest_seconds", solved, runDirectory = "run_directory", status, transport
    }

    public struct Solved: Codable, Sendable, Equatable {
        public var seconds: Double
        public var steps: UInt64
        public var updates: UInt64
        /// Wall-clock seconds since 1970 when the target was reached.
        public var unixTime: Double
        /// The mean return of the last 100 episodes that reached the target, at that moment.
        /// The summary's `status.mean_return_100` is later: episodes of chunks accepted while
        /// the learner stopped count there too, and past the target a policy can swing.
        public var meanReturn100: Double?

        public init(seconds: Double, steps: UInt64, updates: UInt64, unixTime: Double, meanReturn100: Double? = nil) {
            (self.seconds, self.steps, self.updates, self.unixTime, self.meanReturn100) = (seconds, steps, updates, unixTime, meanReturn100)
        }

        enum CodingKeys: String, CodingKey { case seconds, steps, updates, unixTime = "unix_time", meanReturn100 = "mean_return_100" }
    }
}

/// What the learner's socket thread moved, over the whole run.
public struct TransportTotals: Codable, Sendable, Equatable {
    public var messagesReceived: UInt64 = 0
    public var messagesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var sendsUnroutable: UInt64 = 0
    public var sendsDropped: UInt64 = 0
    public var sendsFailed: UInt64 = 0
    public var messagesTruncated: UInt64 = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case messagesReceived = "messages_received", messagesSent = "messages_sent", bytesReceived = "bytes_received"
        case sendsUnroutable = "sends_unroutable", sendsDropped = "sends_dropped", sendsFailed = "sends_failed"
        case messagesTruncated = "messages_truncated"
    }
}

// MARK: worker

/// A session began: the learner welcomed this incarnation.
public struct WorkerSessionStarted: EventRecord, Equatable {
    public static let name = "session"
    public var incarnation: UInt64
    public var runID: String

    public init(incarnation: UInt64, runID: String) { (self.incarnation, self.runID) = (incarnation, runID) }

    enum CodingKeys: String, CodingKey { case incarnation, runID = "run_id" }
}

/// The first environment step (or synthetic chunk) of the process: the end of start-up.
/// `unixTime` is wall-clock seconds, comparable across processes on one machine.
public struct WorkerActing: EventRecord, Equatable {
    public static let name = "acting"
    public var incarnation: UInt64
    public var unixTime: Double

    public init(incarnation: UInt64, unixTime: Double) { (self.incarnation, self.unixTime) = (incarnation, unixTime) }

    enum CodingKeys: String, CodingKey { case incarnation, unixTime = "unix_time" }
}

/// A chunk was handed to the transport (only with `--trace-chunks`).
public struct WorkerChunkSent: EventRecord, Equatable {
    public static let name = "chunk_sent"
    public var incarnation: UInt64
    public var sequence: UInt64

    public init(incarnation: UInt64, sequence: UInt64) { (self.incarnation, self.sequence) = (incarnation, sequence) }
}

/// The worker began acting with a newer policy version: its weights were installed, and every
/// action from now on is sampled with them (only with `--trace-versions`). With the learner's
/// `published` events, what docs/scaling.md's weight fan-out is measured from.
public struct WorkerActingWith: EventRecord, Equatable {
    public static let name = "acting_with"
    public var incarnation: UInt64
    public var version: UInt64
    public var unixTime: Double

    public init(incarnation: UInt64, version: UInt64, unixTime: Double) {
        (self.incarnation, self.version, self.unixTime) = (incarnation, version, unixTime)
    }

    enum CodingKeys: String, CodingKey { case incarnation, version, unixTime = "unix_time" }
}

/// The trainer published a policy version (only with `--trace-versions`).
public struct LearnerPublished: EventRecord, Equatable {
    public static let name = "published"
    public var version: UInt64
    public var unixTime: Double

    public init(version: UInt64, unixTime: Double) { (self.version, self.unixTime) = (version, unixTime) }

    enum CodingKeys: String, CodingKey { case version, unixTime = "unix_time" }
}

/// The worker stopped; one entry per incarnation it had.
public struct WorkerSummary: EventRecord, Equatable {
    public static let name = "summary"
    public var incarnations: [IncarnationStats]

    public init(incarnations: [IncarnationStats]) { self.incarnations = incarnations }
}

/// What one incarnation sent and what became of it.
public struct IncarnationStats: Codable, Sendable, Equatable {
    public var incarnation: UInt64
    public var welcomed = false
    public var sent: UInt64 = 0
    /// Highest `acked_chunks` the learner reported (chunks it accepted).
    public var acked: UInt64 = 0
    /// Chunks refused, by Reject reason.
    public var rejected: [String: UInt64] = [:]
    /// Chunks sent but neither acknowledged nor refused when the incarnation ended.
    public var unconfirmed: UInt64 = 0
    /// Why it ended (an exit reason's name; empty while it runs).
    public var ended = ""

    public init(incarnation: UInt64) { self.incarnation = incarnation }
}

// MARK: demo

/// `tributary demo --json`: the run's outcome in one line.
public struct DemoSummary: EventRecord, Equatable {
    public static let name = "demo_summary"
    public var env: String
    public var seed: UInt64
    public var workers: Int
    public var envsPerWorker: Int
    public var solved: Bool
    public var wallS: Double
    public var envSteps: UInt64
    public var updates: UInt64
    public var episodes: UInt64
    @Finite public var meanReturn100: Double
    public var lagMean: Double
    public var lagMax: UInt64
    public var runDirectory: String?
    /// From launching the learner to the first environment step of any worker.
    public var startupS: Double?
    /// Set when solved: training seconds, env steps and updates to the target, and the wall
    /// time from launching the processes to the target.
    public var solveTrainingS: Double?
    public var solveSteps: UInt64?
    public var solveUpdates: UInt64?
    public var solveWallS: Double?

    public init(env: String, seed: UInt64, workers: Int, envsPerWorker: Int, solved: Bool, wallS: Double, envSteps: UInt64,
                updates: UInt64, episodes: UInt64, meanReturn100: Double, lagMean: Double, lagMax: UInt64, runDirectory: String?) {
        self.env = env
        self.seed = seed
        self.workers = workers
        self.envsPerWorker = envsPerWorker
        self.solved = solved
        self.wallS = wallS
        self.envSteps = envSteps
        self.updates = updates
        self.episodes = episodes
        self.meanReturn100 = meanReturn100
        self.lagMean = lagMean
        self.lagMax = lagMax
        self.runDirectory = runDirectory
    }

    enum CodingKeys: String, CodingKey {
        case env, seed, workers, envsPerWorker = "envs_per_worker", solved, wallS = "wall_s", envSteps = "env_steps", updates, episodes
        case meanReturn100 = "mean_return_100", lagMean = "lag_mean", lagMax = "lag_max", runDirectory = "run_directory"
        case startupS = "startup_s", solveTrainingS = "solve_training_s", solveSteps = "solve_steps", solveUpdates = "solve_updates"
        case solveWallS = "solve_wall_s"
    }
}
