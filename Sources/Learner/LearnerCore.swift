import Foundation
import Logging
import Protocol
import Synchronization
import Telemetry

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
        var workerID: String
        var incarnation: UInt64
        var host: String
        var env: Tributary_V1_EnvSpec
        var protocolVersion: UInt32
        /// Credits the worker holds: granted and not yet used by a chunk.
        var credits: UInt32
        /// Most chunks the worker may have in flight and admitted-but-unreleased together
        /// (sized by bytes, `LearnerConfig.credits(forChunkBytes:)`).
        var creditLimit: UInt32
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
    }

    struct Departed {
        var key: WorkerKey
        var session: Session
        var reason: String
    }

    struct State {
        var sessions: [WorkerKey: Session] = [:]
        var departed: [Departed] = []
        var counters = Counters()
        var policyVersion: UInt64 = 0
        /// The weights workers get (fetch, Welcome, announcements): the newest, or with an
        /// injected lag of k the one k versions older.
        var weights = WeightsSnapshot.empty
        /// Newer snapshots held back by the injected lag, oldest first.
        var heldBack: [WeightsSnapshot] = []
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
    }

    /// What the trainer reports after each update.
    public struct TrainingProgress: Sendable, Equatable {
        public var updates: UInt64 = 0
        public var episodes: UInt64 = 0
        public var lagMin: UInt64 = 0
        public var lagMean: Double = 0
        public var lagMax: UInt64 = 0
    }

    /// Totals since start. `rejected` is by `ProtocolError.Code.name`.
    public struct Counters: Sendable, Equatable {
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
        public var rejectedTotal: UInt64 { rejected.values.reduce(0, +) }
    }

    public let config: LearnerConfig
    public let runID: String
    let logger: Logger
    public let store: ExperienceStore
    let send: @Sendable (Route, [OwnedFrame]) -> Void
    let started: ContinuousClock.Instant
    let state: Mutex<State>
    let limits: WireLimits

    public init(
        config: LearnerConfig,
        logger: Logger,
        store: ExperienceStore,
        now: ContinuousClock.Instant = .now,
        send: @escaping @Sendable (Route, [OwnedFrame]) -> Void
    ) {
        self.config = config
        self.runID = config.runID.isEmpty ? "run-" + UUID().uuidString.prefix(8).lowercased() : config.runID
        self.logger = logger
        self.store = store
        self.send = send
        self.started = now
        self.limits = WireLimits(maxMessageBytes: config.maxMessageBytes)
        self.state = Mutex(State())
    }

    public var counters: Counters { state.withLock { $0.counters } }
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
        public init(key: WorkerKey, frames: [any MessageFrame], truncated: Bool = false) {
            self.key = key
            self.frames = frames
            self.truncated = truncated
        }
    }

    /// Handles one message from the data ROUTER (routing identity already split off).
    public func handleData(from key: WorkerKey, frames: [any MessageFrame], truncated: Bool = false, now: ContinuousClock.Instant = .now) {
        handleData([DataMessage(key: key, frames: frames, truncated: truncated)], now: now)
    }

    /// Handles messages in arrival order under one lock: the socket thread passes each
    /// batch it read, so the lock is taken once per batch, not per chunk.
    public func handleData(_ messages: [DataMessage], now: ContinuousClock.Instant = .now) {
        var replies: [(WorkerKey, [OwnedFrame])] = []
        var accepted: [QueuedChunk] = []
        var refused: [String] = []
        state.withLock { s in
            for m in messages {
                handleOne(&s, key: m.key, frames: m.frames, truncated: m.truncated, now: now, replies: &replies,
                          accepted: &accepted, refused: &refused)
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
    static func droppedReason(_ code: ProtocolError.Code) -> String {
        switch code {
        case .unknownWorker: "worker_expired"
        case .shuttingDown: "shutdown"
        default: "malformed"
        }
    }

    private func handleOne(
        _ s: inout State, key: WorkerKey, frames: [any MessageFrame], truncated: Bool,
        now: ContinuousClock.Instant, replies: inout [(WorkerKey, [OwnedFrame])], accepted: inout [QueuedChunk],
        refused: inout [String]
    ) {
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

        func refuse(_ error: ProtocolError, sequence: UInt64 = 0, returnCredit: Bool = false) {
            s.counters.rejected[error.code.name, default: 0] += 1
            if isChunk {
                s.counters.rejectedChunks[error.code.name, default: 0] += 1
                refused.append(Self.droppedReason(error.code))
            }
            var returned: UInt32 = 0
            if var session = s.sessions[key] {
                if isChunk { session.rejected += 1 }
                if returnCredit {
                    session.credits += 1
                    returned = 1
                }
                session.lastSent = now
                s.sessions[key] = session
            }
            s.log.warning(logger, reason: error.code.name, "refused \(header?.type?.description ?? "message") from \(key): \(error)", now: now)
            replies.append((key, WireCodec.reject(error, rejectedType: header?.rawType ?? 0, sequence: sequence, creditsReturned: returned)))
        }

        if s.stopping && header?.type != .goodbye {
            return refuse(ProtocolError(.shuttingDown, "the learner is stopping"))
        }
        // A known worker spent a credit on a chunk we cannot read: take it and give it back
        // with the Reject, so both sides keep counting the same credits.
        func spendCredit() -> Bool {
            guard isChunk, let credits = s.sessions[key]?.credits, credits > 0 else { return false }
            s.sessions[key]!.credits -= 1
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
                replies.append((key, try handleHello(&s, key: key, hello: hello, now: now)))
            } catch {
                refuse(error.error)
            }
        case .trajectoryChunk(let chunk):
            do throws(Refusal) {
                accepted.append(try handleChunk(&s, key: key, chunk: chunk, frames: message.tensorFrames))
            } catch {
                refuse(error.error, sequence: chunk.sequence, returnCredit: error.returnCredit)
            }
        case .heartbeat(let beat):
            guard s.sessions[key] != nil else {
                return refuse(ProtocolError(.unknownWorker, "heartbeat from a worker that has not said Hello (or expired): say Hello again"))
            }
            s.sessions[key]!.actingVersion = beat.policyVersion
        case .goodbye(let bye):
            guard var session = s.sessions.removeValue(forKey: key) else {
                return refuse(ProtocolError(.unknownWorker, "goodbye from a worker that has not said Hello"))
            }
            session.reportedSent = bye.chunksSent
            s.counters.workersSaidGoodbye += 1
            logger.info("worker \(session.workerID) incarnation \(session.incarnation) said goodbye (\(bye.reason)); sent \(bye.chunksSent), accepted \(session.accepted), rejected \(session.rejected)")
            remember(&s, Departed(key: key, session: session, reason: "goodbye: \(bye.reason)"))
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
        _ s: inout State, key: WorkerKey, hello: Tributary_V1_Hello, now: ContinuousClock.Instant
    ) throws(Refusal) -> [OwnedFrame] {
        guard let version = ProtocolVersion.negotiate(peer: hello.protocolVersions) else {
            throw Refusal(
                .unsupportedVersion,
                "worker speaks protocol versions \(hello.protocolVersions), this learner speaks \(ProtocolVersion.supported)")
        }
        let env = hello.env
        if hello.workerID.isEmpty { throw Refusal(.malformed, "Hello has an empty worker_id") }
        if env.envID.isEmpty || env.numEnvs == 0 {
            throw Refusal(.envMismatch, "Hello needs env.env_id and env.num_envs > 0")
        }
        if env.observationDtype.byteSize == nil || env.actionDtype.byteSize == nil {
            throw Refusal(.envMismatch, "Hello's observation and action dtypes must be set")
        }
        if !config.acceptedEnvIDs.isEmpty, !config.acceptedEnvIDs.contains(env.envID) {
            throw Refusal(.envMismatch, "this learner trains on \(config.acceptedEnvIDs), not '\(env.envID)'")
        }
        let limit = config.credits(forChunkBytes: ChunkValidator.expectedBytes(env: env, length: Int(config.unrollLength)))
        if let old = s.sessions.removeValue(forKey: key) {
            remember(&s, Departed(key: key, session: old, reason: "replaced by incarnation \(hello.incarnation)"))
        }
        var session = Session(
            workerID: hello.workerID, incarnation: hello.incarnation, host: hello.host, env: env,
            protocolVersion: version, credits: 0, creditLimit: limit, grantBatch: max(1, limit / 4), lastHeard: now, lastSent: now)
        // As many as admission allows now (possibly none: then the first Credit follows an update).
        let credits = grantable(s, session)
        session.credits = credits
        s.sessions[key] = session
        logger.info("worker \(hello.workerID) incarnation \(hello.incarnation) from \(hello.host) joined: \(env.envID) × \(env.numEnvs)")
        var welcome = Tributary_V1_Welcome()
        welcome.runID = runID
        welcome.protocolVersion = version
        welcome.unrollLength = config.unrollLength
        welcome.initialCredits = credits
        welcome.heartbeatIntervalMs = UInt32(config.heartbeatInterval.milliseconds)
        welcome.livenessMs = UInt32(config.liveness.milliseconds)
        welcome.maxMessageBytes = UInt64(config.maxMessageBytes)
        welcome.currentWeights = s.weights.announcement(runID: runID)
        welcome.model = s.weights.model
        return WireCodec.encode(.welcome(welcome))
    }

    private func handleChunk(
        _ s: inout State, key: WorkerKey, chunk: Tributary_V1_TrajectoryChunk, frames: [any MessageFrame]
    ) throws(Refusal) -> QueuedChunk {
        guard var session = s.sessions[key], session.incarnation == chunk.incarnation else {
            throw Refusal(.unknownWorker, "chunk from a worker (incarnation \(chunk.incarnation)) that has not said Hello or expired: say Hello again")
        }
        guard session.credits > 0 else {
            s.sessions[key] = session
            throw Refusal(.noCredit, "chunk \(chunk.sequence) sent without a credit")
        }
        session.credits -= 1
        s.sessions[key] = session
        guard chunk.runID == runID else {
            throw Refusal(.wrongRun, "chunk names run '\(chunk.runID)', this is '\(runID)'", returnCredit: true)
        }
        guard chunk.sequence >= session.nextSequence else {
            throw Refusal(.badSequence, "chunk sequence \(chunk.sequence) repeats (next expected ≥ \(session.nextSequence))", returnCredit: true)
        }
        s.sessions[key]!.nextSequence = chunk.sequence + 1
        let validated: ValidatedChunk
        do throws(ProtocolError) {
            validated = try ChunkValidator.validate(chunk, frames: frames, env: session.env)
        } catch {
            throw Refusal(error, returnCredit: true)
        }
        let newest = validated.policyVersions.uint64(at: validated.policyVersions.elementCount - 1)
        guard chunk.length == config.unrollLength else {
            throw Refusal(.shapeMismatch, "chunk has T=\(chunk.length), the run's unroll length is \(config.unrollLength)", returnCredit: true)
        }
        guard newest <= s.policyVersion else {
            throw Refusal(.shapeMismatch, "policy version \(newest) is newer than the learner's \(s.policyVersion)", returnCredit: true)
        }
        s.sessions[key]!.accepted += 1
        s.sessions[key]!.queued += 1
        s.unreleasedColumns += Int(chunk.numEnvs)
        for e in chunk.episodes {
            s.training.episodes += 1
            s.recentReturns.append(e.episodeReturn)
        }
        if s.recentReturns.count > 100 { s.recentReturns.removeFirst(s.recentReturns.count - 100) }
        s.sessions[key]!.actingVersion = newest
        s.counters.chunksAccepted += 1
        if s.firstAccepted == nil { s.firstAccepted = .now }
        s.counters.stepsReceived += UInt64(validated.steps)
        s.sessions[key]!.steps += UInt64(validated.steps)
        return QueuedChunk(worker: key, chunk: validated)
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
            var touched = Set<WorkerKey>()
            for item in outcome.released {
                s.counters.chunksConsumed += 1
                s.lastConsumed = now
                s.unreleasedColumns -= item.columns
                guard var session = s.sessions[item.worker], session.incarnation == item.chunk.header.incarnation else { continue }
                session.consumed += 1
                session.queued -= 1
                s.sessions[item.worker] = session
                touched.insert(item.worker)
            }
            if !s.stopping { grant(&s, to: Array(touched), now: now, replies: &replies) }
        }
        for (key, reply) in replies { send(.data(key), reply) }
    }

    /// Sends the credits each of `keys` may have now. A worker gets them in batches of its
    /// `grantBatch`, or whatever it may have when it holds none or has nothing left in the
    /// buffer (so it never waits for credits held back for batching).
    private func grant(_ s: inout State, to keys: [WorkerKey], now: ContinuousClock.Instant,
                       replies: inout [(WorkerKey, [OwnedFrame])]) {
        for key in keys {
            guard var session = s.sessions[key] else { continue }
            let n = grantable(s, session)
            guard n > 0, n >= session.grantBatch || session.credits == 0 || session.queued == 0 else { continue }
            var credit = Tributary_V1_Credit()
            credit.credits = n
            credit.ackedChunks = session.accepted
            replies.append((key, WireCodec.encode(.credit(credit))))
            session.credits += n
            session.lastSent = now
            s.sessions[key] = session
        }
    }

    /// Credits `session` may be granted now: what its limit leaves (held and unreleased chunks
    /// count against it), within the staleness bound η and the sample:insert limiter.
    ///
    /// η is AReaL's admission rule, `accepted + running < (η + v + 1) · B`, in columns: since
    /// v updates have released v · B columns, it is the same as keeping the columns admitted
    /// but not yet released plus those of credits in flight within (η + 1) · B. A sample then
    /// waits for at most η + 1 updates after its credit was granted; η = 0 is synchronous.
    func grantable(_ s: State, _ session: Session) -> UInt32 {
        let used = session.credits + session.queued
        guard session.creditLimit > used else { return 0 }
        var n = Int(session.creditLimit - used)
        let columns = max(1, Int(session.env.numEnvs))
        let inFlight = s.sessions.values.reduce(0) { $0 + Int($1.credits) * max(1, Int($1.env.numEnvs)) }
        if let eta = config.buffer.eta {
            let budget = (Int(eta) + 1) * config.training.batchColumns - (s.unreleasedColumns + inFlight)
            n = min(n, max(0, budget) / columns)
            // A chunk wider than the whole budget still gets through when nothing else is
            // waiting or in flight: one chunk is the smallest unit there is.
            if n == 0 && s.unreleasedColumns + inFlight == 0 { n = 1 }
        }
        if store.policy.samplesPerInsert != nil {
            while n > 0 && !store.mayInsert(columns: inFlight + n * columns) { n -= 1 }
        }
        return UInt32(n)
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
    public func recordUpdate(lagMin: UInt64, lagMean: Double, lagMax: UInt64, now: ContinuousClock.Instant = .now) {
        var replies: [(WorkerKey, [OwnedFrame])] = []
        state.withLock { s in
            s.training.updates += 1
            s.training.lagMin = lagMin
            s.training.lagMean = lagMean
            s.training.lagMax = lagMax
            if !s.stopping, config.buffer.eta != nil || store.policy.samplesPerInsert != nil {
                grant(&s, to: Array(s.sessions.keys), now: now, replies: &replies)
            }
        }
        for (key, reply) in replies { send(.data(key), reply) }
    }

    public var training: TrainingProgress { state.withLock { $0.training } }

    /// Installs a new policy version and announces it on the weights socket. With an injected
    /// lag of k (`LearnerConfig.injectLag`, for experiments) workers are offered the snapshot
    /// k versions older instead, so every sample is at least k versions stale.
    public func publish(_ snapshot: WeightsSnapshot) {
        let announcement: Tributary_V1_WeightsAvailable? = state.withLock { s in
            s.policyVersion = snapshot.version
            s.heldBack.append(snapshot)
            // The first version is always served (nothing older exists to act with).
            guard s.weights.version == 0 || s.heldBack.count > Int(config.injectLag) else { return nil }
            s.weights = s.heldBack.removeFirst()
            return s.weights.announcement(runID: runID)
        }
        if let announcement { send(.publish, WireCodec.encode(.weightsAvailable(announcement))) }
    }

    // MARK: timers

    /// Expires silent workers and heartbeats quiet ones. Call about twice per heartbeat interval.
    public func tick(now: ContinuousClock.Instant = .now) {
        var beats: [WorkerKey] = []
        let version: UInt64 = state.withLock { s in
            s.stepRate.sample(s.counters.stepsReceived, at: now)
            s.updateRate.sample(s.training.updates, at: now)
            for key in s.sessions.keys {
                s.sessions[key]!.chunkRate.sample(s.sessions[key]!.received, at: now)
                s.sessions[key]!.stepRate.sample(s.sessions[key]!.steps, at: now)
            }
            for (key, session) in s.sessions {
                if now - session.lastHeard > config.liveness {
                    s.sessions.removeValue(forKey: key)
                    s.counters.workersExpired += 1
                    let silent = now - session.lastHeard
                    logger.warning("worker \(session.workerID) incarnation \(session.incarnation) expired: silent for \(silent.milliseconds) ms")
                    remember(&s, Departed(key: key, session: session, reason: "expired: silent for \(silent.milliseconds) ms"))
                } else if now - session.lastSent >= config.heartbeatInterval {
                    s.sessions[key]!.lastSent = now
                    beats.append(key)
                }
            }
            return s.weights.version  // the newest version workers can fetch
        }
        guard !beats.isEmpty else { return }
        var beat = Tributary_V1_Heartbeat()
        beat.unixMs = UInt64(Date().timeIntervalSince1970 * 1000)
        beat.policyVersion = version
        let frames = WireCodec.encode(.heartbeat(beat))
        for key in beats { send(.data(key), frames) }
    }

    /// Whether graceful shutdown has begun (new work is refused).
    public var isStopping: Bool { state.withLock { $0.stopping } }

    /// Refuse new work from now on (graceful shutdown).
    public func beginStopping() {
        state.withLock { $0.stopping = true }
    }
}
