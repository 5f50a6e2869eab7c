import Events
import Foundation
import Logging
import Protocol
import ServiceLifecycle
import Locking
import Transport

/// What a worker prints a JSON line for beyond its usual events (`--trace-chunks`, `--trace-versions`).
public struct WorkerTrace: Sendable, Equatable {
    /// Every chunk handed to the transport (`chunk_sent`).
    public var chunks: Bool
    /// Every switch to a newer policy version (`acting_with`).
    public var versions: Bool

    public init(chunks: Bool = false, versions: Bool = false) {
        self.chunks = chunks
        self.versions = versions
    }
}

/// What a worker reports to its executable (printed as JSON lines on stdout).
public enum WorkerEvent: Sendable {
    /// A session began: the learner welcomed this incarnation.
    case session(WorkerSessionStarted)
    /// The first environment step (or synthetic chunk) of this process begins.
    case acting(WorkerActing)
    /// A chunk was handed to the transport (only with `trace.chunks`).
    case chunkSent(WorkerChunkSent)
    /// Acting switched to a newer policy version (only with `trace.versions`).
    case actingWith(WorkerActingWith)
    /// The worker stopped; one entry per incarnation it had.
    case summary(WorkerSummary)

    /// One JSON object per event, for stdout (scripts and tests read these lines).
    public var jsonLine: String {
        switch self {
        case .session(let e): EventLine.encode(e)
        case .acting(let e): EventLine.encode(e)
        case .chunkSent(let e): EventLine.encode(e)
        case .actingWith(let e): EventLine.encode(e)
        case .summary(let e): EventLine.encode(e)
        }
    }
}

/// A worker that cannot go on (for example refused for its protocol version).
public struct WorkerError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        let name: String
        public static let unsupportedVersion = Code(name: "unsupported_version")
        /// The worker's configuration cannot work with this learner (environment, sizes).
        public static let refused = Code(name: "refused")
        /// The learner does not let this worker's key in (CURVE), or the handshake cannot succeed.
        public static let unauthorized = Code(name: "unauthorized")
    }
    public var code: Code
    public var description: String
}

/// The rollout worker process: connect, Hello, stream chunks under credits, heartbeat,
/// and reconnect as a new incarnation when the learner goes away. Reconnecting is the
/// outermost loop (SEED RL's habit): nothing the learner does can stop the worker, only
/// a refusal it cannot fix (wrong protocol version) or a shutdown signal.
public struct WorkerService: Service {
    let config: WorkerConfig
    let logger: Logger
    let trace: WorkerTrace
    let events: @Sendable (WorkerEvent) -> Void

    /// A socket thread shared with a learner in the same process (inproc:// endpoints); nil:
    /// the worker's own, shut down when it stops.
    let sharedReactor: SocketReactor?

    public init(config: WorkerConfig, logger: Logger, trace: WorkerTrace = WorkerTrace(), reactor: SocketReactor? = nil,
                events: @escaping @Sendable (WorkerEvent) -> Void) {
        self.config = config
        self.logger = logger
        self.trace = trace
        self.sharedReactor = reactor
        self.events = events
    }

    public func run() async throws {
        // Its own socket thread, on the shared reactor's context when there is one (in-process
        // workers reach the learner over inproc://): the worker acts on that thread.
        let reactor = try SocketReactor(name: "worker", logger: logger, sharingContextOf: sharedReactor)
        let stats = StatsBox()
        // One driver per session (`--sessions`), all stepped by the one socket thread.
        let drivers = (0..<max(1, config.sessions)).map { i in
            WorkerDriver(config: config.session(i), logger: logger, trace: trace, events: events, stats: stats)
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // A shutdown signal cancels this task: every session drains and says Goodbye.
                await withTaskCancellationHandler {
                    await withTaskGroup(of: Void.self) { sessions in
                        for driver in drivers { sessions.addTask { await reactor.drive(driver) } }
                    }
                } onCancel: {
                    for driver in drivers { driver.requestStop() }
                    reactor.poke()
                }
            }
            group.addTask {
                try? await gracefulShutdown()
            }
            // The drivers end on their own (maxChunks, a fatal refusal) or after a shutdown.
            await group.next()
            group.cancelAll()
        }
        events(.summary(WorkerSummary(incarnations: stats.all)))
        await reactor.shutdown()
        for driver in drivers {
            if case .failed(let error)? = driver.outcome { throw error }
        }
    }
}

/// Per-incarnation statistics, readable after the loop ends.
final class StatsBox: Sendable {
    private let entries = Mutex<[IncarnationStats]>([])
    func update(_ s: IncarnationStats) {
        entries.withLock { entries in
            if let i = entries.lastIndex(where: { $0.incarnation == s.incarnation }) { entries[i] = s } else { entries.append(s) }
        }
    }
    var all: [IncarnationStats] { entries.withLock { $0 } }
}
