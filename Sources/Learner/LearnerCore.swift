import DequeModule
import Domain
import Corrections
import Experience
import Foundation
import Logging
import Protocol
import Locking
import Telemetry
import Transport

/// A worker connection as the data ROUTER sees it: its routing identity.
public struct WorkerKey: Hashable, Sendable, CustomStringConvertible {
    public let routingID: [UInt8]
    public init(_ routingID: [UInt8]) { self.routingID = routingID }
    public var description: String { routingID.map { String(format: "%02x", $0) }.joined() }
}

/// Where a reply goes.
public enum Route: Sendable, Equatable {
    case data(WorkerKey)
    case control([UInt8])
    case publish
}

/// The learner's protocol state machine: worker sessions, credits, counters, weights.
///
/// It holds no sockets: messages come in as frames, replies go out through `send`, and
/// accepted chunks go into the `ExperienceStore`. That keeps every rule of
/// docs/protocol.md testable in-process. All state sits behind one lock, taken by the
/// socket thread (data handler), the control task, the ticker and the trainer thread.
public final class LearnerCore: Sendable {
    struct Session {
        /// The learner's own number for this session, unique for the learner's lifetime.
        var id: UInt64
        var workerID: String
        var incarnation: UInt64
        var host: String
        /// The connection as the transport saw it: its address, and with CURVE the name of the
        /// key it authenticated with (what the worker's chunks are accounted to).
        var peer: PeerIdentity
        /// B: environment columns of each of its chunks.
        var numEnvs: Int
        /// The most bytes one of its chunks can hold: what a credit costs the memory budget.
        var chunkBytes: Int
        var protocolVersion: UInt32
        /// Credits the worker holds: granted and not yet used by a chunk. Changed only through
        /// `State.adjustCredits`, which keeps the learner-wide totals.
        var credits: UInt32
        /// Most chunks the worker may have in flight and admitted-but-unreleased together: its
        /// share of the admission budget (`Admission.share`), at most `ownLimit`. Set by
        /// `State.reshare` as workers join and leave and as the bound moves.
        var creditLimit: UInt32
        /// What its chunk size allows (`LearnerConfig.credits(forChunkBytes:)`): its limit when
        /// admission is unbounded.
        var ownLimit: UInt32
        /// Credits are sent in batches of this many (or fewer to a worker holding none).
        var grantBatch: UInt32 = 1
        /// Accepted chunks of this session not yet released by the buffer (first use or drop).
        var queued: UInt32 = 0
        var nextSequence: UInt64 = 0
        var received: UInt64 = 0
        var accepted: UInt64 = 0
        var rejected: UInt64 = 0
        var consumed: UInt64 = 0
        var actingVersion: UInt64 = 0
        var reportedSent: UInt64 = 0
        var steps: UInt64 = 0
        var lastHeard: ContinuousClock.Instant
        var lastSent: ContinuousClock.Instant
        /// Chunks received and env steps accepted per second, sampled by `tick`.
        var chunkRate = RateMeter()
        var stepRate = RateMeter()
        /// What the learner saw of each copy's current episode (which episode stats count).
        var ledger: EpisodeLedger
        var episodesUnverified: UInt64 = 0
        /// Whether it is in `State.waiting` (below its credit limit, waiting for a budget).
        var waiting = false
    }

    /// Finished episodes kept for the event file: every one while they finish slower than
    /// `perSecond`, else the first `perSecond` of each second (the mean over the last 100,
    /// `charts/episodic_return_mean100`, still counts all of them). At most `capacity` wait.
    public struct EpisodeLog: Sendable {
        public static let perSecond = 10
        static let capacity = 1000
        public struct Episode: Sendable, Equatable {
            public var episodeReturn: Double
            public var length: UInt64
            /// Env steps received when it arrived (the TensorBoard step).
            public var envSteps: UInt64
        }
        var waiting: [Episode] = []
        var windowStart: ContinuousClock.Instant?
        var inWindow = 0

        mutating func add(_ e: Episode, now: ContinuousClock.Instant) {
            if windowStart.map({ now - $0 >= .seconds(1) }) ?? true { (windowStart, inWindow) = (now, 0) }
            guard inWindow < Self.perSecond else { return }
            inWindow += 1
            waiting.append(e)
            if waiting.count > Self.capacity { waiting.removeFirst(waiting.count - Self.capacity) }
        }
    }

    /// A refused Hello, folded by claimed worker id and code.
    struct RefusedHello {
        static let kept = 32
        var workerID: String
        var host: String
        var peer: PeerIdentity
        var code: String
        var detail: String
        var count: UInt64
        var last: ContinuousClock.Instant
    }

    struct Departed {
        var key: WorkerKey
        var session: Session
        var reason: String
    }

    struct State {
        var sessions: [WorkerKey: Session] = [:]
        var nextSessionID: UInt64 = 1
        var departed: [Departed] = []
        var counters = Counters()
        var policyVersion: UInt64 = 0
        /// The weights workers get (fetch, Welcome, announcements): the newest, or with an
        /// injected lag of k the one k versions older.
        var weights = WeightsSnapshot.empty
        /// Newer snapshots held back by the injected lag, oldest first.
        var heldBack: [WeightsSnapshot] = []
        /// When a WeightsAvailable last went out, and whether a newer version waits for the next
        /// (`LearnerCore.announceInterval`).
        var lastAnnounced: ContinuousClock.Instant?
        var announcementPending = false
        var log = RateLimitedLog()
        var stopping = false
        /// When the first chunk was accepted and the latest was consumed (throughput).
        var firstAccepted: ContinuousClock.Instant?
        var lastConsumed: ContinuousClock.Instant?
        /// Columns admitted and not yet released by the buffer: what the staleness bound η
        /// counts, with the columns of credits in flight, against (η + 1) · B.
        var unreleasedColumns: Int = 0
        /// Returns of the last (up to) 100 finished episodes, oldest first.
        var recentReturns: [Double] = []
        var training = TrainingProgress()
        /// Env steps accepted and updates taken per second, sampled by `tick`.
        var stepRate = RateMeter()
        var updateRate = RateMeter()
        /// Credits granted and not yet used, all sessions: the count, their columns and the
        /// bytes they may bring. Running totals, so admission is O(1) per decision.
        var creditsInFlight = 0
        var creditColumnsInFlight = 0
        var creditBytesInFlight = 0
        /// Sessions below their own credit limit that a learner-wide bound held back, in the
        /// order they are served when room appears.
        var waiting = Deque<WorkerKey>()
        /// The learner-wide budget and the bound η in force (docs/scaling.md).
        var admission: Admission
        /// B, the batch columns the budget is counted in.
        let batchColumns: Int
        var episodesUnverified: UInt64 = 0
        /// Updates the trainer did not apply, by reason, and how many in a row most recently.
        var skipped: [String: UInt64] = [:]
        var consecutiveSkips = 0
        var lastSkipReason = ""
        /// Finished episodes for TensorBoard (`charts/episodic_return`, `charts/episodic_length`),
        /// at most `EpisodeLog.perSecond` each second, until the trainer takes them.
        var episodeLog = EpisodeLog()
        /// Hellos refused lately, newest first (`tributary workers` lists them).
        var refusedHellos: [RefusedHello] = []
        /// The latest evaluation and the best so far (status `training`).
        var evaluation: (mean: Double, std: Double, update: UInt64)?
        var bestEvaluation: Double?
        var transport = TransportCounters()

        /// Changes a session's credits and the learner-wide totals together.
        mutating func adjustCredits(_ key: WorkerKey, by delta: Int) {
            guard var session = sessions[key] else { return }
            session.credits = UInt32(Int(session.credits) + delta)
            sessions[key] = session
            creditsInFlight += delta
            creditColumnsInFlight += delta * session.numEnvs
            creditBytesInFlight += delta * session.chunkBytes
        }

        /// Removes a session; the credits it held no longer count, and the others share the
        /// budget it leaves.
        mutating func removeSession(_ key: WorkerKey) -> Session? {
            guard let session = sessions[key] else { return nil }
            adjustCredits(key, by: -Int(session.credits))
            defer { reshare() }
            return sessions.removeValue(forKey: key)
        }

        /// Sets every session's credit limit to its share of the admission budget, and puts one
        /// whose limit rose in the waiting line. O(sessions): called when one joins or leaves,
        /// and when η moves (at most once per `Admission.window` updates).
        mutating func reshare() {
            let n = sessions.count
            for key in sessions.keys {
                let s = sessions[key]!
                let limit = admission.share(batchColumns: batchColumns, sessions: n, numEnvs: s.numEnvs, ownLimit: s.ownLimit)
                guard limit != s.creditLimit else { continue }
                sessions[key]!.creditLimit = limit
                sessions[key]!.grantBatch = max(1, limit / 4)
                if limit > s.creditLimit { markWaiting(key) }
            }
        }

        /// Puts a session below its own credit limit in the waiting queue (once).
        mutating func markWaiting(_ key: WorkerKey) {
            guard let session = sessions[key], !session.waiting, session.credits + session.queued < session.creditLimit else { return }
            sessions[key]!.waiting = true
            waiting.append(key)
        }
    }

    /// What libzmq's socket monitor reported (status `transport`).
    public struct TransportCounters: Sendable, Equatable {
        public var connectionsAccepted: UInt64 = 0
        public var connectionsClosed: UInt64 = 0
        public var handshakesFailed: [String: UInt64] = [:]
        public var messagesTruncated: UInt64 = 0
    }

    /// What the trainer reports after each update.
    public struct TrainingProgress: Sendable, Equatable {
        public var updates: UInt64 = 0
        public var episodes: UInt64 = 0
        public var lagMin: UInt64 = 0
        public var lagMean: Double = 0
        public var lagMax: UInt64 = 0
        /// The latest applied update's losses (status `training`).
        public var loss: Double = 0
        public var policyLoss: Double = 0
        public var valueLoss: Double = 0
        public var entropy: Double = 0
        public var approxKL: Double = 0
        /// What the correction did in it (masked fraction, |log ratio|, group statistics).
        public var correction = CorrectionStats()
    }

    /// Totals since start. `rejected` is by `ProtocolError.Code.name`.
    public struct Counters: Sendable, Equatable, Codable {
        public var messagesReceived: UInt64 = 0
        public var bytesReceived: UInt64 = 0
        public var chunksReceived: UInt64 = 0
        public var chunksAccepted: UInt64 = 0
        public var chunksConsumed: UInt64 = 0
        public var stepsReceived: UInt64 = 0
        public var rejected: [String: UInt64] = [:]
        /// Chunk messages among `rejected`, by reason (including those from unknown workers).
        public var rejectedChunks: [String: UInt64] = [:]
        public var workersExpired: UInt64 = 0
        public var workersSaidGoodbye: UInt64 = 0
        /// Incarnations replaced by a newer one of the same worker (a restart before expiry).
        public var workersReplaced: UInt64 = 0
        /// Incarnations whose connection was gone when the learner next wrote to them (a
        /// heartbeat, credit or reply could not be routed): ended then, not after `liveness`.
        public var workersDisconnected: UInt64 = 0
        public var rejectedTotal: UInt64 { rejected.values.reduce(0, +) }

        public init() {}

        private enum CodingKeys: String, CodingKey {
            case messagesReceived, bytesReceived, chunksReceived, chunksAccepted, chunksConsumed, stepsReceived, rejected, rejectedChunks,
                 workersExpired, workersSaidGoodbye, workersReplaced, workersDisconnected
        }

        /// Reads checkpoints written before a counter existed (it starts at 0).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func count(_ key: CodingKeys) throws -> UInt64 { try c.decodeIfPresent(UInt64.self, forKey: key) ?? 0 }
            messagesReceived = try count(.messagesReceived)
            bytesReceived = try count(.bytesReceived)
            chunksReceived = try count(.chunksReceived)
            chunksAccepted = try count(.chunksAccepted)
            chunksConsumed = try count(.chunksConsumed)
            stepsReceived = try count(.stepsReceived)
            rejected = try c.decodeIfPresent([String: UInt64].self, forKey: .rejected) ?? [:]
            rejectedChunks = try c.decodeIfPresent([String: UInt64].self, forKey: .rejectedChunks) ?? [:]
            workersExpired = try count(.workersExpired)
            workersSaidGoodbye = try count(.workersSaidGoodbye)
            workersReplaced = try count(.workersReplaced)
            workersDisconnected = try count(.workersDisconnected)
        }
    }

    public let config: LearnerConfig
    /// The environment every Hello and chunk is checked against (`LearnerConfig.environment`).
    public let environment: EnvSpec
    public let runID: String
    let logger: Logger
    public let store: ExperienceStore
    let send: @Sendable (Route, [OwnedFrame]) -> Void
    /// Told every version `publish` installs (the learner's `--trace-versions`).
    let onPublish: (@Sendable (UInt64) -> Void)?
    let started: ContinuousClock.Instant
    let state: Mutex<State>
    let limits: WireLimits
    /// Which authenticated keys may use which socket (everyone, in plaintext).
    public let access: AccessControl

    public init(
        config: LearnerConfig,
        logger: Logger,
        store: ExperienceStore,
        access: AccessControl = .open,
        now: ContinuousClock.Instant = .now,
        onPublish: (@Sendable (UInt64) -> Void)? = nil,
        send: @escaping @Sendable (Route, [OwnedFrame]) -> Void
    ) {
        self.onPublish = onPublish
        self.config = config
        self.access = access
        guard let environment = config.environment else { preconditionFailure("LearnerConfig.validate() refuses an unknown environment") }
        self.environment = environment
        self.runID = config.runID.isEmpty ? Self.defaultRunID(config) : config.runID
        self.logger = logger
        self.store = store
        self.send = send
        self.started = now
        self.limits = WireLimits(maxMessageBytes: config.maxMessageBytes)
        self.state = Mutex(State(admission: Admission(config.buffer.admissionMode), batchColumns: config.training.batchColumns))
    }

    public var counters: Counters { state.withLock { $0.counters } }

    /// Carries a resumed run's totals over from its checkpoint: the counters, updates and
    /// episodes. The mean return starts over from the episodes that end from now on.
    public func restoreProgress(from checkpoint: Checkpoint) {
        state.withLock { s in
            s.counters = checkpoint.counters
            s.training.updates = checkpoint.updates
            s.training.episodes = checkpoint.episodes
        }
    }

    /// Updates and episodes so far (what a checkpoint records).
    public var progress: (updates: UInt64, episodes: UInt64) { state.withLock { ($0.training.updates, $0.training.episodes) } }
    public var policyVersion: UInt64 { state.withLock { $0.policyVersion } }

    /// From the first accepted chunk to the latest consumed one: the window over which
    /// ingest throughput is measured (benchmarks). nil before two such events.
    public var ingestDuration: Duration? {
        state.withLock { s in
            guard let a = s.firstAccepted, let b = s.lastConsumed, b > a else { return nil }
            return b - a
        }
    }

    // MARK: data socket

    /// One message from the data ROUTER, its routing identity split off.
    public struct DataMessage: Sendable {
        public var key: WorkerKey
        public var frames: [any MessageFrame]
        public var truncated: Bool
        public var peer: PeerIdentity
        public init(key: WorkerKey, frames: [any MessageFrame], truncated: Bool = false, peer: PeerIdentity = PeerIdentity()) {
            self.key = key
            self.frames = frames
            self.truncated = truncated
            self.peer = peer
        }
    }

    /// Handles one message from the data ROUTER (routing identity already split off).
    public func handleData(from key: WorkerKey, frames: [any MessageFrame], truncated: Bool = false,
                           peer: PeerIdentity = PeerIdentity(), now: ContinuousClock.Instant = .now) {
        handleData([DataMessage(key: key, frames: frames, truncated: truncated, peer: peer)], now: now)
    }

    /// Handles messages in arrival order under one lock: the socket thread passes each
    /// batch it read, so the lock is taken once per batch, not per chunk.
    public func handleData(_ messages: [DataMessage], now: ContinuousClock.Instant = .now) {
        var replies: [(WorkerKey, [OwnedFrame])] = []
        var accepted: [QueuedChunk] = []
        var refused: [DropReason] = []
        state.withLock { s in
            for m in messages {
                handleOne(&s, m, now: now, replies: &replies, accepted: &accepted, refused: &refused)
            }
        }
        store.recordRefused(reasons: refused)
        for (key, reply) in replies { send(.data(key), reply) }
        if !accepted.isEmpty {
            let outcome = store.insert(contentsOf: accepted, now: now)
            if !outcome.released.isEmpty { released(outcome, now: now) }
        }
    }

    /// The accounting bucket of a refused chunk (the exact reason is in `rejected_chunks`).
    static func droppedReason(_ code: ProtocolError.Code) -> DropReason {
        switch code {
        case .unknownWorker: .workerExpired
        case .shuttingDown: .shutdown
        default: .malformed
        }
    }

    private func handleOne(
        _ s: inout State, _ m: DataMessage, now: ContinuousClock.Instant,
        replies: inout [(WorkerKey, [OwnedFrame])], accepted: inout [QueuedChunk], refused: inout [DropReason]
    ) {
        let (key, frames, truncated) = (m.key, m.frames, m.truncated)
        s.counters.messagesReceived += 1
        let bytes = frames.reduce(0) { $0 + $1.count }
        s.counters.bytesReceived += UInt64(bytes)
        let header = WireCodec.peekHeader(frames)
        let isChunk = header?.type == .trajectoryChunk
        if s.sessions[key] != nil {
            s.sessions[key]!.lastHeard = now
            if isChunk {
                s.sessions[key]!.received += 1
                s.counters.chunksReceived += 1
            }
        }

        /// `claimed`: who a refused Hello says it is (peer-supplied, shown cut and printable).
        func refuse(_ error: ProtocolError, sequence: UInt64 = 0, returnCredit: Bool = false, claimed: String? = nil) {
            s.counters.rejected[error.code.name, default: 0] += 1
            if isChunk {
                s.counters.rejectedChunks[error.code.name, default: 0] += 1
                refused.append(Self.droppedReason(error.code))
            }
            var returned: UInt32 = 0
            if s.sessions[key] != nil {
                if isChunk {
                    s.sessions[key]!.rejected += 1
                    // Its steps are lost to the episode ledger: the episodes under way cannot be verified.
                    s.sessions[key]!.ledger.forget()
                }
                if returnCredit {
                    s.adjustCredits(key, by: 1)
                    returned = 1
                }
                s.sessions[key]!.lastSent = now
            }
            let who = s.sessions[key].map { "worker \($0.workerID) (\($0.peer))" }
                ?? claimed.map { "\($0) (\(m.peer))" } ?? "a peer without a session (\(m.peer))"
            s.log.warning(logger, reason: error.code.name, "refused \(header?.type?.description ?? "message") from \(who): \(error)", now: now)
            replies.append((key, WireCodec.reject(error, rejectedType: header?.rawType ?? 0, sequence: sequence, creditsReturned: returned)))
        }

        if s.stopping && header?.type != .goodbye {
            return refuse(ProtocolError(.shuttingDown, "the learner is stopping"))
        }
        // A known worker spent a credit on a chunk we cannot read: take it and give it back
        // with the Reject, so both sides keep counting the same credits.
        func spendCredit() -> Bool {
            guard isChunk, let credits = s.sessions[key]?.credits, credits > 0 else { return false }
            s.adjustCredits(key, by: -1)
            return true
        }
        if truncated {
            let spent = spendCredit()
            return refuse(ProtocolError(.malformed, "more frames than the transport keeps per message"), returnCredit: spent)
        }
        let message: DecodedMessage
        do throws(ProtocolError) {
            message = try WireCodec.decode(frames, limits: limits)
        } catch {
            let spent = spendCredit()
            return refuse(error, returnCredit: spent)
        }
        switch message.body {
        case .hello(let hello):
            do throws(Refusal) {
                replies.append((key, try handleHello(&s, key: key, hello: hello, peer: m.peer, now: now)))
            } catch {
                func printable(_ text: String) -> String {
                    String(String.UnicodeScalarView(text.unicodeScalars.prefix(64).map { $0.properties.generalCategory == .control ? "?" : $0 }))
                }
                let (workerID, host) = (printable(hello.workerID), printable(hello.host))
                refuse(error.error, claimed: "worker '\(workerID)' incarnation \(hello.incarnation) on host '\(host)'")
                let code = error.error.code.name
                if let i = s.refusedHellos.firstIndex(where: { $0.workerID == workerID && $0.code == code }) {
                    var r = s.refusedHellos.remove(at: i)
                    (r.count, r.last, r.host, r.peer, r.detail) = (r.count + 1, now, host, m.peer, error.error.reason)
                    s.refusedHellos.insert(r, at: 0)
                } else {
                    s.refusedHellos.insert(RefusedHello(workerID: workerID, host: host, peer: m.peer, code: code,
                                                        detail: error.error.reason, count: 1, last: now), at: 0)
                    if s.refusedHellos.count > RefusedHello.kept { s.refusedHellos.removeLast() }
                }
            }
        case .trajectoryChunk(let chunk):
            do throws(Refusal) {
                accepted.append(try handleChunk(&s, key: key, chunk: chunk, frames: message.tensorFrames, now: now))
            } catch {
                refuse(error.error, sequence: chunk.sequence, returnCredit: error.returnCredit)
            }
        case .heartbeat(let beat):
            guard s.sessions[key] != nil else {
                return refuse(ProtocolError(.unknownWorker, "heartbeat from a worker that has not said Hello (or expired): say Hello again"))
            }
            s.sessions[key]!.actingVersion = beat.policyVersion
        case .goodbye(let bye):
            guard s.sessions[key] != nil else {
                return refuse(ProtocolError(.unknownWorker, "goodbye from a worker that has not said Hello"))
            }
            let reason = bye.reason.utf8.count > FieldLimits.goodbyeReason
                ? String(decoding: bye.reason.utf8.prefix(FieldLimits.goodbyeReason), as: UTF8.self) + "…" : bye.reason
            var session = s.removeSession(key)!
            session.reportedSent = bye.chunksSent
            s.counters.workersSaidGoodbye += 1
            logger.info("worker \(session.workerID) incarnation \(session.incarnation) said goodbye (\(reason)); sent \(bye.chunksSent), accepted \(session.accepted), rejected \(session.rejected)")
            remember(&s, Departed(key: key, session: session, reason: "goodbye: \(reason)"))
            grantWaiting(&s, now: now, replies: &replies)
        default:
            refuse(ProtocolError(.unknownType, "\(message.body.type) is not accepted on the data socket"))
        }
    }

    /// A refused message, and whether the chunk's credit goes back to the worker.
    struct Refusal: Error {
        var error: ProtocolError
        var returnCredit = false
        init(_ code: ProtocolError.Code, _ reason: String, returnCredit: Bool = false) {
            self.error = ProtocolError(code, reason)
            self.returnCredit = returnCredit
        }
        init(_ error: ProtocolError, returnCredit: Bool) {
            self.error = error
            self.returnCredit = returnCredit
        }
    }

    private func handleHello(
        _ s: inout State, key: WorkerKey, hello: Tributary_V1_Hello, peer: PeerIdentity, now: ContinuousClock.Instant
    ) throws(Refusal) -> [OwnedFrame] {
        guard access.allows(peer, on: "data") else {
            throw Refusal(.unauthorized, "the key \(peer.keyName.map { "'\($0)'" } ?? "(none)") may not send data: it is not enrolled as a worker")
        }
        let spec = environment
        let admitted: HelloValidator.Admitted
        do throws(ProtocolError) {
            admitted = try HelloValidator.validate(
                hello, rules: HelloRules(spec: spec, unrollLength: Int(config.unrollLength), maxChunkSteps: config.maxChunkSteps))
        } catch {
            throw Refusal(error, returnCredit: false)
        }
        if s.sessions[key] == nil, s.sessions.count >= config.maxWorkers {
            throw Refusal(.learnerFull, "this learner admits at most \(config.maxWorkers) workers (--max-workers) and has them all")
        }
        let b = admitted.numEnvs
        let t = Int(config.unrollLength)
        let ownLimit = config.credits(forChunkBytes: ChunkValidator.typicalBytes(spec: spec, numEnvs: b, length: t))
        if let old = s.removeSession(key) {
            s.counters.workersReplaced += 1
            remember(&s, Departed(key: key, session: old, reason: "replaced by incarnation \(hello.incarnation)"))
        }
        s.sessions[key] = Session(
            id: s.nextSessionID, workerID: hello.workerID, incarnation: hello.incarnation, host: hello.host, peer: peer, numEnvs: b,
            chunkBytes: ChunkValidator.maxBytes(spec: spec, numEnvs: b, length: t),
            // Its limit comes down to its share in `reshare` (which queues only sessions whose
            // limit rose: where this one waits is decided below).
            protocolVersion: admitted.protocolVersion, credits: 0, creditLimit: .max, ownLimit: ownLimit,
            lastHeard: now, lastSent: now, ledger: EpisodeLedger(numEnvs: b))
        s.nextSessionID += 1
        s.reshare()
        // As many as admission allows now (possibly none: then the first Credit follows an update).
        let (credits, held) = grantable(s, s.sessions[key]!)
        s.adjustCredits(key, by: Int(credits))
        // One that a learner-wide bound leaves with nothing is first in line for the next room.
        if held, credits == 0 { waitFirst(&s, key) } else { s.markWaiting(key) }
        logger.info("worker \(hello.workerID) incarnation \(hello.incarnation) from \(hello.host) (\(peer)) joined: \(spec.id) × \(b)")
        var welcome = Tributary_V1_Welcome()
        welcome.runID = runID
        welcome.protocolVersion = admitted.protocolVersion
        welcome.unrollLength = config.unrollLength
        welcome.initialCredits = credits
        welcome.heartbeatIntervalMs = UInt32(config.heartbeatInterval.milliseconds)
        welcome.livenessMs = UInt32(config.liveness.milliseconds)
        welcome.maxMessageBytes = UInt64(config.maxMessageBytes)
        welcome.sharedTensorFrames = true
        welcome.currentWeights = s.weights.announcement(runID: runID)
        welcome.model = s.weights.model.wire
        return WireCodec.encode(.welcome(welcome))
    }

    private func handleChunk(
        _ s: inout State, key: WorkerKey, chunk: Tributary_V1_TrajectoryChunk, frames: [any MessageFrame], now: ContinuousClock.Instant
    ) throws(Refusal) -> QueuedChunk {
        guard let session = s.sessions[key], session.incarnation == chunk.incarnation else {
            throw Refusal(.unknownWorker, "chunk from a worker (incarnation \(chunk.incarnation)) that has not said Hello or expired: say Hello again")
        }
        guard session.credits > 0 else {
            throw Refusal(.noCredit, "chunk \(chunk.sequence) sent without a credit")
        }
        s.adjustCredits(key, by: -1)
        guard chunk.runID == runID else {
            let shown = chunk.runID.utf8.count > FieldLimits.runID ? "(\(chunk.runID.utf8.count) bytes)" : "'\(chunk.runID)'"
            throw Refusal(.wrongRun, "chunk names run \(shown), this is '\(runID)'", returnCredit: true)
        }
        guard chunk.sequence >= session.nextSequence else {
            throw Refusal(.badSequence, "chunk sequence \(chunk.sequence) repeats (next expected ≥ \(session.nextSequence))", returnCredit: true)
        }
        // A gap means chunks were lost on the way: the episodes under way cannot be verified.
        if chunk.sequence > session.nextSequence { s.sessions[key]!.ledger.forget() }
        s.sessions[key]!.nextSequence = chunk.sequence + 1
        let validated: ValidatedChunk
        let episodes: EpisodeLedger.Admitted
        do throws(ProtocolError) {
            let rules = ChunkRules(spec: environment, numEnvs: session.numEnvs, unrollLength: Int(config.unrollLength),
                                   newestVersion: s.weights.version)
            validated = try ChunkValidator.validate(chunk, frames: frames, rules: rules)
            episodes = try s.sessions[key]!.ledger.admit(validated, maxEpisodeSteps: environment.maxEpisodeSteps)
        } catch {
            throw Refusal(error, returnCredit: true)
        }
        let newest = validated.stepVersions.last ?? 0
        s.sessions[key]!.accepted += 1
        s.sessions[key]!.queued += 1
        s.unreleasedColumns += session.numEnvs
        let stepsWithThis = s.counters.stepsReceived + UInt64(validated.steps)
        for e in episodes.counted {
            s.training.episodes += 1
            s.recentReturns.append(e.episodeReturn)
            s.episodeLog.add(.init(episodeReturn: e.episodeReturn, length: e.length, envSteps: stepsWithThis), now: now)
        }
        s.episodesUnverified += UInt64(episodes.unverified)
        s.sessions[key]!.episodesUnverified += UInt64(episodes.unverified)
        if s.recentReturns.count > 100 { s.recentReturns.removeFirst(s.recentReturns.count - 100) }
        s.sessions[key]!.actingVersion = newest
        s.counters.chunksAccepted += 1
        if s.firstAccepted == nil { s.firstAccepted = .now }
        s.counters.stepsReceived += UInt64(validated.steps)
        s.sessions[key]!.steps += UInt64(validated.steps)
        return QueuedChunk(worker: key, session: session.id, chunk: validated, arrivalVersion: s.policyVersion)
    }

    private func remember(_ s: inout State, _ departed: Departed) {
        s.departed.append(departed)
        if s.departed.count > config.expiredWorkersKept { s.departed.removeFirst(s.departed.count - config.expiredWorkersKept) }
    }

    // MARK: trainer side

    /// Chunks the buffer released — trained for the first time, or dropped unused — and the
    /// drops among them: count them and give their workers credits back, within admission.
    public func released(_ outcome: ExperienceStore.Buffer.Outcome, now: ContinuousClock.Instant = .now) {
        var replies: [(WorkerKey, [OwnedFrame])] = []
        state.withLock { s in
            var touched: [WorkerKey] = []
            for item in outcome.released {
                s.counters.chunksConsumed += 1
                s.lastConsumed = now
                s.unreleasedColumns -= item.columns
                guard s.sessions[item.worker]?.id == item.session else { continue }
                s.sessions[item.worker]!.consumed += 1
                s.sessions[item.worker]!.queued -= 1
                touched.append(item.worker)
            }
            if !s.stopping {
                // Workers already waiting in line for room come first, in order; the workers
                // whose chunks were just released come after them. The other way round, a worker
                // whose chunk frees room takes it straight back, and under a tight learner-wide
                // bound (η) a worker that joined later never got a credit at all.
                grantWaiting(&s, now: now, replies: &replies)
                grant(&s, to: touched, now: now, replies: &replies)
            }
        }
        for (key, reply) in replies { send(.data(key), reply) }
    }

    /// Sends the credits each of `keys` may have now. A worker gets them in batches of its
    /// `grantBatch`, or whatever it may have when it holds none or has nothing left in the
    /// buffer (so it never waits for credits held back for batching). One left below its limit
    /// by a learner-wide bound waits in `State.waiting`.
    private func grant(_ s: inout State, to keys: some Sequence<WorkerKey>, now: ContinuousClock.Instant,
                       replies: inout [(WorkerKey, [OwnedFrame])]) {
        for key in keys {
            guard s.sessions[key] != nil else { continue }
            grantOne(&s, key, now: now, replies: &replies)
            s.markWaiting(key)
        }
    }

    /// Grants `key` what it may have now; `held`: a learner-wide bound held it back.
    @discardableResult
    private func grantOne(_ s: inout State, _ key: WorkerKey, now: ContinuousClock.Instant,
                          replies: inout [(WorkerKey, [OwnedFrame])]) -> (granted: UInt32, held: Bool) {
        let session = s.sessions[key]!
        let (n, global) = grantable(s, session)
        guard n > 0, n >= session.grantBatch || session.credits == 0 || session.queued == 0 else { return (0, global) }
        var credit = Tributary_V1_Credit()
        credit.credits = n
        credit.ackedChunks = session.accepted
        replies.append((key, WireCodec.encode(.credit(credit))))
        s.adjustCredits(key, by: Int(n))
        s.sessions[key]!.lastSent = now
        return (n, global)
    }

    /// Puts a session that a learner-wide bound left with nothing at the front of the line.
    private func waitFirst(_ s: inout State, _ key: WorkerKey) {
        guard let session = s.sessions[key], !session.waiting else { return }
        s.sessions[key]!.waiting = true
        s.waiting.prepend(key)
    }

    /// Serves waiting sessions in order until a learner-wide bound stops the round: each
    /// decision is O(1), and a round does no more work than the credits it grants plus one.
    /// A session served goes to the back of the line (if still below its own limit); one the
    /// bound left holding no credit keeps its place at the front, so the next room is its:
    /// workers take turns instead of the first in line taking every credit that frees up.
    private func grantWaiting(_ s: inout State, now: ContinuousClock.Instant, replies: inout [(WorkerKey, [OwnedFrame])]) {
        var round = s.waiting.count
        while round > 0, let key = s.waiting.popFirst() {
            round -= 1
            guard s.sessions[key]?.waiting == true else { continue }  // left, or already served
            s.sessions[key]!.waiting = false
            let (granted, held) = grantOne(&s, key, now: now, replies: &replies)
            // Only one left holding no credit keeps the front: one that holds some (and was
            // only waiting for a whole batch of them) goes to the back like the served ones.
            if held, granted == 0, s.sessions[key]!.credits == 0 {
                waitFirst(&s, key)
                break
            }
            s.markWaiting(key)
            if held { break }
        }
    }

    /// Credits `session` may be granted now, and whether a learner-wide bound rather than its
    /// own limit is what held it back: its limit (held and unreleased chunks count against
    /// it), the staleness bound η, the memory budget and the sample:insert limiter. O(1): the
    /// learner-wide sums are running totals.
    ///
    /// η is AReaL's admission rule, `accepted + running < (η + v + 1) · B`, in columns: since
    /// v updates have released v · B columns, it is the same as keeping the columns admitted
    /// but not yet released plus those of credits in flight within (η + 1) · B. A sample then
    /// waits for at most η + 1 updates after its credit was granted; η = 0 is synchronous.
    func grantable(_ s: State, _ session: Session) -> (credits: UInt32, global: Bool) {
        let used = session.credits + session.queued
        guard session.creditLimit > used else { return (0, false) }
        var n = Int(session.creditLimit - used)
        var global = false
        let columns = max(1, session.numEnvs)
        if let total = s.admission.budgetColumns(batchColumns: s.batchColumns) {
            let waiting = s.unreleasedColumns + s.creditColumnsInFlight
            let budget = total - waiting
            // A chunk wider than the whole budget still gets through when nothing else is
            // waiting or in flight: one chunk is the smallest unit there is.
            let m = waiting == 0 ? max(1, budget / columns) : max(0, budget) / columns
            if m < n { (n, global) = (m, true) }
        }
        let held = store.bufferedBytes + s.creditBytesInFlight
        let room = held == 0 ? max(1, (config.memoryBudgetBytes - held) / session.chunkBytes)
            : max(0, config.memoryBudgetBytes - held) / session.chunkBytes
        if room < n { (n, global) = (room, true) }
        if store.policy.samplesPerInsert != nil {
            while n > 0 && !store.mayInsert(columns: s.creditColumnsInFlight + n * columns) {
                n -= 1
                global = true
            }
        }
        return (UInt32(n), global)
    }

    /// Mean return of the last (up to) 100 finished episodes and how many there were in all.
    public var returns: (mean100: Double?, count: Int, episodes: UInt64) {
        state.withLock { s in
            (s.recentReturns.isEmpty ? nil : s.recentReturns.reduce(0, +) / Double(s.recentReturns.count),
             s.recentReturns.count, s.training.episodes)
        }
    }

    /// The trainer took an optimizer step on samples with these version lags. The staleness
    /// bound moves with the update count, so credits held back by it may go out now.
    public func recordUpdate(lagMin: UInt64, lagMean: Double, lagMax: UInt64, losses: UpdateLosses = UpdateLosses(),
                             now: ContinuousClock.Instant = .now) {
        var replies: [(WorkerKey, [OwnedFrame])] = []
        state.withLock { s in
            s.training.updates += 1
            (s.training.loss, s.training.policyLoss, s.training.valueLoss, s.training.entropy, s.training.approxKL) =
                (losses.loss, losses.policyLoss, losses.valueLoss, losses.entropy, losses.approxKL)
            s.training.correction = losses.correction
            s.training.lagMin = lagMin
            s.training.lagMean = lagMean
            s.training.lagMax = lagMax
            s.consecutiveSkips = 0
            // The bound follows the lag the trainer sees; the shares follow the bound.
            if s.admission.observe(lagMean: lagMean) { s.reshare() }
            if !s.stopping { grantWaiting(&s, now: now, replies: &replies) }
        }
        for (key, reply) in replies { send(.data(key), reply) }
    }

    /// A run id that says what ran, as CleanRL's run names do: environment, correction, seed, a
    /// UTC start time, and 4 random hex digits so two runs started in the same second differ
    /// (`CartPole-v1__vtrace__seed1__20261201-001530-3f2a`).
    static func defaultRunID(_ config: LearnerConfig, date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let suffix = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        let env = config.envID.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }
        return "\(String(String.UnicodeScalarView(env)))__\(config.training.objectiveName)__seed\(config.training.seed)__\(f.string(from: date))-\(String(repeating: "0", count: 4 - suffix.count) + suffix)"
    }

    /// The finished episodes kept for the event file since the last call (oldest first).
    public func takeEpisodes() -> [EpisodeLog.Episode] {
        state.withLock { s in
            defer { s.episodeLog.waiting.removeAll(keepingCapacity: true) }
            return s.episodeLog.waiting
        }
    }

    /// The losses of an applied update, for the status reply.
    public struct UpdateLosses: Sendable {
        public var loss = 0.0, policyLoss = 0.0, valueLoss = 0.0, entropy = 0.0, approxKL = 0.0
        public var correction = CorrectionStats()
        public init(loss: Double = 0, policyLoss: Double = 0, valueLoss: Double = 0, entropy: Double = 0, approxKL: Double = 0,
                    correction: CorrectionStats = CorrectionStats()) {
            (self.loss, self.policyLoss, self.valueLoss, self.entropy, self.approxKL) = (loss, policyLoss, valueLoss, entropy, approxKL)
            self.correction = correction
        }
    }

    /// The trainer evaluated the policy (`best`: the best evaluation so far).
    public func recordEvaluation(meanReturn: Double, stdReturn: Double, update: UInt64, best: Double?) {
        state.withLock { s in
            s.evaluation = (meanReturn, stdReturn, update)
            s.bestEvaluation = best
        }
    }

    /// The trainer did not apply an update (a non-finite loss, gradient or parameters): counted
    /// by reason; after `degradedAfterSkips` in a row the learner reports itself degraded.
    public func recordSkippedUpdate(reason: String, detail: String) {
        state.withLock { s in
            s.skipped[reason, default: 0] += 1
            s.consecutiveSkips += 1
            s.lastSkipReason = "\(reason): \(detail)"
        }
    }

    /// "ok", "degraded" (with why) or "stopping".
    public var health: (state: String, reason: String) { state.withLock { health($0) } }

    func health(_ s: State) -> (state: String, reason: String) {
        if s.stopping { return ("stopping", "graceful shutdown") }
        if s.consecutiveSkips >= config.degradedAfterSkips {
            return ("degraded", "\(s.consecutiveSkips) updates in a row skipped, the last for \(s.lastSkipReason)")
        }
        return ("ok", "")
    }

    /// A libzmq socket-monitor event on the data or control socket: counted, and logged at a
    /// bounded rate (an oversize frame, for one, shows only as a closed connection).
    public func recordTransport(_ event: TransportEvent, socket: String, now: ContinuousClock.Instant = .now) {
        if case .unroutable(let routingID) = event {
            if socket == "data" { connectionGone(WorkerKey(routingID), now: now) }
            return
        }
        state.withLock { s in
            switch event {
            case .accepted:
                s.transport.connectionsAccepted += 1
            case .disconnected(let peer):
                s.transport.connectionsClosed += 1
                s.log.info(logger, reason: "closed-\(socket)", "\(socket) connection from \(peer.isEmpty ? "a peer" : peer) closed (the peer left, sent a frame above \(config.maxMessageBytes) bytes, or broke the protocol)", now: now)
            case .handshakeFailedAuth, .handshakeFailedProtocol, .handshakeFailedOther:
                let kind = event.handshakeFailureKind!
                s.transport.handshakesFailed[kind, default: 0] += 1
                s.log.warning(logger, reason: "handshake-\(kind)", "\(socket) handshake failed (\(kind)): \(event)", now: now)
            case .connected, .handshakeSucceeded, .unroutable:
                break
            }
        }
    }

    /// A message to `key` could not be routed: its connection is gone, so its session (if it
    /// has one) ends now rather than after `liveness` of silence, and what it held is freed.
    /// Typical causes: a worker killed or restarted, or a Hello that reached the learner after
    /// its sender had given up on that socket (a client closing without ZMQ_LINGER 0).
    public func connectionGone(_ key: WorkerKey, now: ContinuousClock.Instant = .now) {
        var replies: [(WorkerKey, [OwnedFrame])] = []
        state.withLock { s in
            guard let session = s.removeSession(key) else { return }
            s.counters.workersDisconnected += 1
            s.log.info(logger, reason: "disconnected", "worker \(session.workerID) incarnation \(session.incarnation) (\(session.peer)) left: its connection is gone", now: now)
            remember(&s, Departed(key: key, session: session, reason: "disconnected: its connection closed"))
            if !s.stopping { grantWaiting(&s, now: now, replies: &replies) }
        }
        for (key, reply) in replies { send(.data(key), reply) }
    }

    /// Keys removed from the allow list (SIGHUP): their sessions end now, and their Hellos and
    /// control messages are refused from here on (`AccessControl.allows`).
    public func revoke(keyNames: [String], now: ContinuousClock.Instant = .now) {
        guard !keyNames.isEmpty else { return }
        let names = Set(keyNames)
        var replies: [(WorkerKey, [OwnedFrame])] = []
        state.withLock { s in
            for (key, session) in s.sessions where session.peer.keyName.map(names.contains) == true {
                _ = s.removeSession(key)
                logger.warning("worker \(session.workerID) (\(session.peer)) removed: its key was revoked")
                remember(&s, Departed(key: key, session: session, reason: "revoked: key '\(session.peer.keyName!)' no longer enrolled"))
            }
            grantWaiting(&s, now: now, replies: &replies)
        }
        for (key, reply) in replies { send(.data(key), reply) }
    }

    public var training: TrainingProgress { state.withLock { $0.training } }

    /// Installs a new policy version and announces it on the weights socket. With an injected
    /// lag of k (`LearnerConfig.injectLag`, for experiments) workers are offered the snapshot
    /// k versions older instead, so every sample is at least k versions stale; with a sync
    /// interval or offline (`weightsSync`) only some snapshots are offered at all.
    ///
    /// Announcements are paced: at most one per `announceInterval(sessions:)`, the newest version
    /// then; one held back goes out with the next publish after the interval or the next `tick`.
    /// GetWeights always serves the newest, so a paced announcement delays no worker that asks.
    public func publish(_ snapshot: WeightsSnapshot, now: ContinuousClock.Instant = .now) {
        onPublish?(snapshot.version)
        var snapshot = snapshot
        if snapshot.encodedParts == nil { snapshot.encodeParts(partBytes: config.weightsPartBytes) }
        let announcement: Tributary_V1_WeightsAvailable? = state.withLock { s in
            s.policyVersion = snapshot.version
            s.heldBack.append(snapshot)
            // The first version is always served (nothing older exists to act with).
            guard s.weights.version == 0 || s.heldBack.count > Int(config.injectLag) else { return nil }
            let candidate = s.heldBack.removeFirst()
            if s.weights.version != 0 {
                switch config.weightsSync {
                case .offline: return nil
                case .interval(let k) where k > 1 && (candidate.version - 1) % UInt64(k) != 0: return nil
                default: break
                }
            }
            s.weights = candidate
            return announceIfDue(&s, now: now)
        }
        if let announcement { send(.publish, WireCodec.encode(.weightsAvailable(announcement))) }
    }

    /// The shortest time between two announcements with `sessions` workers: every worker wakes
    /// for each one (its socket thread and its weights client), so the pace is set for about
    /// 2,000 deliveries a second in all: every version for one or two workers, one every 16 ms
    /// for 32 (docs/scaling.md, "Per-chunk overhead").
    public static func announceInterval(sessions: Int) -> Duration {
        .microseconds(500 * max(0, sessions))
    }

    /// The newest served version's announcement when one is due, nil otherwise (then pending).
    private func announceIfDue(_ s: inout State, now: ContinuousClock.Instant) -> Tributary_V1_WeightsAvailable? {
        if let last = s.lastAnnounced, now - last < Self.announceInterval(sessions: s.sessions.count) {
            s.announcementPending = true
            return nil
        }
        s.lastAnnounced = now
        s.announcementPending = false
        return s.weights.announcement(runID: runID)
    }

    // MARK: timers

    /// Expires silent workers and heartbeats quiet ones. Call about twice per heartbeat interval.
    public func tick(now: ContinuousClock.Instant = .now) {
        var beats: [(WorkerKey, UInt64)] = []
        var replies: [(WorkerKey, [OwnedFrame])] = []
        var pending: Tributary_V1_WeightsAvailable?
        let version: UInt64 = state.withLock { s in
            s.stepRate.sample(s.counters.stepsReceived, at: now)
            s.updateRate.sample(s.training.updates, at: now)
            for key in s.sessions.keys {
                s.sessions[key]!.chunkRate.sample(s.sessions[key]!.received, at: now)
                s.sessions[key]!.stepRate.sample(s.sessions[key]!.steps, at: now)
            }
            for (key, session) in s.sessions {
                if now - session.lastHeard > config.liveness {
                    _ = s.removeSession(key)
                    s.counters.workersExpired += 1
                    let silent = now - session.lastHeard
                    logger.warning("worker \(session.workerID) incarnation \(session.incarnation) expired: silent for \(silent.milliseconds) ms")
                    remember(&s, Departed(key: key, session: session, reason: "expired: silent for \(silent.milliseconds) ms"))
                } else if now - session.lastSent >= config.heartbeatInterval {
                    s.sessions[key]!.lastSent = now
                    beats.append((key, session.accepted))
                }
            }
            // What expired sessions held is free for the others.
            if !s.stopping { grantWaiting(&s, now: now, replies: &replies) }
            if s.announcementPending { pending = announceIfDue(&s, now: now) }
            return s.weights.version  // the newest version workers can fetch
        }
        if let pending { send(.publish, WireCodec.encode(.weightsAvailable(pending))) }
        for (key, reply) in replies { send(.data(key), reply) }
        guard !beats.isEmpty else { return }
        var beat = Tributary_V1_Heartbeat()
        beat.unixMs = UInt64(Date().timeIntervalSince1970 * 1000)
        beat.policyVersion = version
        // Each carries its worker's acknowledgement: a worker whose chunks wait in the buffer
        // (no credit goes back until they are used) still learns within an interval that
        // they were accepted.
        for (key, accepted) in beats {
            beat.ackedChunks = accepted
            send(.data(key), WireCodec.encode(.heartbeat(beat)))
        }
    }

    /// The first of the core's invariants that does not hold, nil when all do: the buffer's
    /// accounting identity, the learner-wide credit totals equal to the sessions' own, no more
    /// sessions than admitted, no negative counts. Cheap enough to check after every event
    /// (the fuzz targets and property tests do).
    public func invariantViolation() -> String? {
        state.withLock { s in
            let credits = s.sessions.values.reduce(0) { $0 + Int($1.credits) }
            let columns = s.sessions.values.reduce(0) { $0 + Int($1.credits) * $1.numEnvs }
            let bytes = s.sessions.values.reduce(0) { $0 + Int($1.credits) * $1.chunkBytes }
            if credits != s.creditsInFlight || columns != s.creditColumnsInFlight || bytes != s.creditBytesInFlight {
                return "credit totals \(s.creditsInFlight)/\(s.creditColumnsInFlight)/\(s.creditBytesInFlight), sessions hold \(credits)/\(columns)/\(bytes)"
            }
            if s.sessions.count > config.maxWorkers { return "\(s.sessions.count) sessions, at most \(config.maxWorkers)" }
            if s.unreleasedColumns < 0 { return "negative unreleased columns \(s.unreleasedColumns)" }
            if let bad = s.sessions.values.first(where: { $0.credits + $0.queued > max($0.creditLimit, $0.credits + $0.queued) }) {
                return "worker \(bad.workerID) holds more than its limit"
            }
            let accounting = store.read { $0.accounting }
            if !accounting.balances { return "accounting identity broken: \(accounting)" }
            return nil
        }
    }

    /// Whether graceful shutdown has begun (new work is refused).
    public var isStopping: Bool { state.withLock { $0.stopping } }

    /// Refuse new work from now on (graceful shutdown).
    public func beginStopping() {
        state.withLock { $0.stopping = true }
    }
}
