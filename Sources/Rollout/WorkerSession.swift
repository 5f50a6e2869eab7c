import Events
import Foundation
import Protocol

/// One incarnation's side of the protocol (docs/protocol.md §4–§9), without sockets or clocks
/// of its own: Hello, Welcome or a refusal within the Hello timeout, chunks under credits,
/// heartbeats, the learner's liveness, draining and Goodbye. The driver (`WorkerDriver`) feeds
/// it what arrives and the time, and carries out the actions it returns; unit tests do the
/// same with a fake clock.
public struct WorkerSession: Sendable {
    public struct Settings: Sendable {
        /// How long to wait for Welcome.
        public var helloTimeout: Duration = .seconds(2)
        /// Used until a Welcome says otherwise.
        public var heartbeatInterval: Duration = .milliseconds(500)
        public var liveness: Duration = .seconds(5)
        /// Chunks this incarnation may still send (what is left of the worker's `--max-chunks`);
        /// nil: no limit.
        public var chunkBudget: UInt64? = nil
        /// Pause between chunks (tests); nil sends as fast as credits allow.
        public var chunkInterval: Duration? = nil
        /// How long a stopping worker waits for the learner to confirm what it sent.
        public var drainLimit: Duration = .seconds(1)

        public init() {}
    }

    /// What the driver does next.
    public enum Action: Sendable, Equatable {
        /// Send this message on the data socket.
        case send(WireBody)
        /// Build and send `count` chunks, numbered `firstSequence`, `firstSequence + 1`, …
        case sendChunks(firstSequence: UInt64, count: Int)
        /// The learner welcomed this incarnation: streaming begins.
        case welcomed(Tributary_V1_Welcome)
        /// Fetch weights of at least this version.
        case wantWeights(UInt64)
        /// The incarnation is over.
        case end(Ending)
    }

    /// How an incarnation ended.
    public enum Ending: Sendable, Equatable {
        /// Said Goodbye (budget spent or shutdown), or stopped before a Welcome.
        case finished(String)
        /// The learner is gone, refused the Hello for a reason that may pass, or forgot this
        /// incarnation: start a new one (after a backoff if it was never welcomed).
        case reconnect(String)
        /// Refused for a reason retrying cannot fix (protocol version, key, configuration).
        case fatal(WorkerError)
    }

    enum Phase: Sendable, Equatable {
        case greeting(deadline: ContinuousClock.Instant)
        case streaming
        case draining(since: ContinuousClock.Instant)
        case ended
    }

    public let incarnation: UInt64
    public let settings: Settings
    let hello: Tributary_V1_Hello
    var phase: Phase
    /// Credits the worker holds.
    public private(set) var credits: UInt32 = 0
    public private(set) var nextSequence: UInt64 = 0
    /// What this incarnation sent and what became of it.
    public private(set) var record: IncarnationStats
    var heartbeat: Duration
    var liveness: Duration
    var lastHeard: ContinuousClock.Instant
    var lastSent: ContinuousClock.Instant
    var nextChunkAt: ContinuousClock.Instant

    public init(incarnation: UInt64, hello: Tributary_V1_Hello, settings: Settings, now: ContinuousClock.Instant) {
        self.incarnation = incarnation
        self.settings = settings
        self.hello = hello
        phase = .greeting(deadline: now + settings.helloTimeout)
        record = IncarnationStats(incarnation: incarnation)
        heartbeat = settings.heartbeatInterval
        liveness = settings.liveness
        lastHeard = now
        lastSent = now
        nextChunkAt = now
    }

    /// The Hello that opens the session.
    public mutating func start(now: ContinuousClock.Instant) -> [Action] {
        lastSent = now
        return [.send(.hello(hello))]
    }

    public var isWelcomed: Bool { record.welcomed }
    public var isDraining: Bool { if case .draining = phase { true } else { false } }

    /// A message from the learner on the data socket.
    public mutating func receive(_ body: WireBody, now: ContinuousClock.Instant) -> [Action] {
        guard phase != .ended else { return [] }
        lastHeard = now
        switch (phase, body) {
        case (.greeting, .welcome(let w)):
            phase = .streaming
            record.welcomed = true
            credits = w.initialCredits
            if w.heartbeatIntervalMs > 0 { heartbeat = .milliseconds(w.heartbeatIntervalMs) }
            if w.livenessMs > 0 { liveness = .milliseconds(w.livenessMs) }
            return [.welcomed(w), .wantWeights(w.currentWeights.version)]
        case (.greeting, .reject(let r)):
            if let fatal = Self.fatal(r) { return end(.fatal(fatal)) }
            return end(.reconnect("Hello refused (\(Self.codeName(r.code))): \(r.reason)"))
        case (.greeting, _):
            return []
        case (_, .credit(let c)):
            credits += c.credits
            record.acked = max(record.acked, c.ackedChunks)
            return []
        case (_, .reject(let r)):
            if let fatal = Self.fatal(r) { return end(.fatal(fatal)) }
            credits += r.creditsReturned
            if r.rejectedType == UInt32(MessageType.trajectoryChunk.rawValue) {
                record.rejected[Self.codeName(r.code), default: 0] += 1
            }
            if r.code == .unknownWorker || r.code == .shuttingDown { return end(.reconnect("learner: \(r.reason)")) }
            return []
        case (_, .heartbeat(let h)):
            record.acked = max(record.acked, h.ackedChunks)
            return [.wantWeights(h.policyVersion)]
        default:
            return []
        }
    }

    /// Time passed (call whenever the driver wakes): chunks if credits, weights and pacing allow;
    /// the Goodbye once a stopping worker's chunks are confirmed; a heartbeat when quiet; the end
    /// when the learner is silent past its liveness or the Welcome did not come.
    /// `weightsReady`: the worker can act (it holds the weights it must act with).
    /// `stopRequested`: shut down (SIGTERM): drain, say Goodbye.
    public mutating func tick(now: ContinuousClock.Instant, weightsReady: Bool, stopRequested: Bool, actingVersion: UInt64) -> [Action] {
        switch phase {
        case .ended:
            return []
        case .greeting(let deadline):
            if stopRequested { return end(.finished("shutdown before Welcome")) }
            if now >= deadline { return end(.reconnect("no Welcome within \(settings.helloTimeout)")) }
            return []
        case .streaming, .draining:
            break
        }
        var actions: [Action] = []
        let budgetSpent = settings.chunkBudget.map { record.sent >= $0 } ?? false
        if stopRequested || budgetSpent {
            if case .streaming = phase { phase = .draining(since: now) }
        }
        if case .draining(let since) = phase {
            let confirmed = record.acked + record.rejected.values.reduce(0, +)
            if confirmed >= record.sent || now - since > min(liveness, settings.drainLimit) {
                var bye = Tributary_V1_Goodbye()
                bye.reason = budgetSpent && !stopRequested ? "sent \(record.sent) chunks" : "shutdown"
                bye.chunksSent = record.sent
                return [.send(.goodbye(bye))] + end(.finished("goodbye: \(bye.reason)"))
            }
        } else if credits > 0, weightsReady, now >= nextChunkAt {
            var count = Int(credits)
            if let budget = settings.chunkBudget { count = min(count, Int(budget - record.sent)) }
            if settings.chunkInterval != nil { count = min(count, 1) }
            if count > 0 {
                actions.append(.sendChunks(firstSequence: nextSequence, count: count))
                nextSequence += UInt64(count)
                credits -= UInt32(count)
                record.sent += UInt64(count)
                lastSent = now
                if let interval = settings.chunkInterval { nextChunkAt = now + interval }
            }
        }
        if now - lastHeard > liveness {
            return actions + end(.reconnect("learner silent for \((now - lastHeard).milliseconds) ms"))
        }
        if now - lastSent >= heartbeat {
            var beat = Tributary_V1_Heartbeat()
            beat.unixMs = UInt64(Date().timeIntervalSince1970 * 1000)
            beat.policyVersion = actingVersion
            actions.append(.send(.heartbeat(beat)))
            lastSent = now
        }
        return actions
    }

    /// How long the driver may wait for a message before the next `tick`.
    public func wait(now: ContinuousClock.Instant, weightsReady: Bool) -> Duration {
        switch phase {
        case .ended: return .zero
        case .greeting(let deadline): return max(.zero, min(.milliseconds(200), deadline - now))
        case .draining: return .milliseconds(20)
        case .streaming:
            var wait = heartbeat / 2
            if settings.chunkInterval != nil, credits > 0 { wait = min(wait, max(.milliseconds(1), nextChunkAt - now)) }
            if !weightsReady { wait = min(wait, .milliseconds(20)) }
            return wait
        }
    }

    /// The learner's connection closed (the transport says so) while the worker was stopping:
    /// no confirmation and no Goodbye can reach it, so the worker ends now rather than waiting
    /// out the drain limit. A worker still streaming keeps going (libzmq reconnects, and the
    /// liveness rule decides).
    public mutating func learnerDisconnected() -> [Action] {
        guard isDraining else { return [] }
        return end(.finished("the learner closed the connection while this worker stopped"))
    }

    /// The driver could not send or the socket closed: the session is over.
    public mutating func transportEnded(_ reason: String) -> [Action] {
        end(.reconnect(reason))
    }

    private mutating func end(_ ending: Ending) -> [Action] {
        phase = .ended
        switch ending {
        case .finished(let why), .reconnect(let why): record.ended = why
        case .fatal(let error): record.ended = "fatal: \(error.description)"
        }
        record.unconfirmed = record.sent - min(record.sent, record.acked + record.rejected.values.reduce(0, +))
        return [.end(ending)]
    }

    /// Refusals that retrying cannot fix end the worker with the learner's reason: its protocol
    /// version (exit 3), its key (exit 4), or its configuration (exit 2: another environment,
    /// sizes or fields beyond the learner's limits).
    static func fatal(_ r: Tributary_V1_Reject) -> WorkerError? {
        switch r.code {
        case .unsupportedVersion:
            WorkerError(code: .unsupportedVersion, description: "the learner refused this worker's protocol version: \(r.reason)")
        case .unauthorized:
            WorkerError(code: .unauthorized, description: "the learner refused this worker's key: \(r.reason)")
        case .envMismatch, .fieldTooLong:
            WorkerError(code: .refused, description: "the learner refused this worker's configuration (\(codeName(r.code))): \(r.reason)")
        case .oversize where r.rejectedType == UInt32(MessageType.hello.rawValue):
            WorkerError(code: .refused, description: "the learner refused this worker's configuration (oversize): \(r.reason)")
        default:
            nil
        }
    }

    static func codeName(_ code: Tributary_V1_Reject.Code) -> String {
        ProtocolError.Code(wire: code)?.name ?? "code_\(code.rawValue)"
    }
}
