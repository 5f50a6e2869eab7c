import BuildInfo
import Domain
import Environments
import Events
import Foundation
import Locking
import Logging
import NeuralNet
import Protocol
import Transport

/// Wakes the session loop's wait on its data socket from another thread (new weights installed).
final class SessionWaker: Sendable {
    private let target = Mutex<(@Sendable () -> Void)?>(nil)
    /// What `wake` calls: the current incarnation's data inbox.
    func set(_ wake: (@Sendable () -> Void)?) { target.withLock { $0 = wake } }
    func wake() { target.withLock { $0 }?() }
}

/// The worker's outer loop: one iteration per incarnation. It drives a `WorkerSession` (the
/// protocol, socket-free) with the data socket, the clock and the chunk source: reconnecting
/// is the outermost loop (SEED RL's habit), so nothing the learner does can stop the worker but
/// a refusal it cannot fix or a shutdown.
struct SessionLoop {
    let config: WorkerConfig
    let logger: Logger
    let reactor: SocketReactor
    let client: VariableClient
    let waker: SessionWaker
    let traceChunks: Bool
    let events: @Sendable (WorkerEvent) -> Void
    let stats: StatsBox

    /// Chunks sent over all incarnations.
    private var totalSent: UInt64 = 0
    private var source: (any ChunkSource)?
    /// Whether the `acting` event (the first environment step of this process) went out.
    private var announcedActing = false
    /// The periodic summary line: when the last was logged, and the total sent then.
    private var summaryAt = ContinuousClock.now
    private var sentAtSummary: UInt64 = 0
    /// Time spent welcomed, with weights, waiting for the learner to grant a credit (the
    /// learner's admission holding this worker back), since the last summary.
    private var creditWait: Duration = .zero
    static let summaryEvery: Duration = .seconds(10)
    /// The data socket's handshakes, across incarnations: a learner that keeps refusing this
    /// worker's key ends the worker with a reason instead of endless retries.
    private let handshakes: HandshakeWatch

    /// How long a worker that was waiting for credits and just got one waits for the newest
    /// weights before acting anyway (with what it has).
    static let freshWeightsWait: Duration = .milliseconds(20)
    /// A worker that waited longer than this for a credit fetches the newest weights before it
    /// acts on it; one whose credits come back sooner (it is saturated) acts at once, its
    /// weights kept current by the announcements.
    static let idleBeforeRefresh: Duration = .milliseconds(2)

    init(config: WorkerConfig, logger: Logger, reactor: SocketReactor, client: VariableClient, waker: SessionWaker = SessionWaker(),
         traceChunks: Bool, events: @escaping @Sendable (WorkerEvent) -> Void, stats: StatsBox) {
        self.config = config
        self.logger = logger
        self.reactor = reactor
        self.client = client
        self.waker = waker
        self.traceChunks = traceChunks
        self.events = events
        self.stats = stats
        self.handshakes = HandshakeWatch(limit: config.handshakeFailureLimit)
    }

    mutating func run() async throws {
        let env = try envSpec()
        var backoff = config.backoffInitial
        while !Task.isCancelled {
            // 53 random bits: unique enough, and exact as a JSON number in every language.
            let incarnation = UInt64.random(in: 1..<(1 << 53))
            var dataSpec = SocketSpec(kind: .dealer)
            dataSpec.connect = [config.dataEndpoint]
            dataSpec.lingerMilliseconds = 0
            dataSpec.security = config.security
            dataSpec.onEvent = handshakes.onEvent
            let data = try await reactor.open(dataSpec)
            let inbox = data.inbox
            waker.set { inbox.wake() }
            let (ending, record) = await session(data: data, incarnation: incarnation, env: env)
            waker.set(nil)
            stats.update(record)
            switch ending {
            case .finished:
                await reactor.close(data.id, lingerMilliseconds: 1000)
                return
            case .fatal(let error):
                await reactor.close(data.id, lingerMilliseconds: 200)
                throw error
            case .reconnect(let why):
                // Linger 0: chunks still queued for the old learner are dropped here and show
                // up as this incarnation's `unconfirmed`.
                await reactor.close(data.id, lingerMilliseconds: 0)
                if record.welcomed {
                    backoff = config.backoffInitial
                    logger.warning("\(why); reconnecting as a new incarnation")
                } else {
                    // Nothing came back: say which kind of silence (DNS, refused, no answer).
                    var why = why
                    if why.hasPrefix("no Welcome") {
                        let endpoint = config.dataEndpoint
                        why += ": " + (await Task.detached { ConnectionProbe.probe(endpoint) }.value).description
                    }
                    logger.warning("\(why); retrying in \(backoff)")
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, config.backoffMax)
                }
            }
        }
    }

    /// One incarnation: its session's actions carried out until it ends.
    private mutating func session(data: OpenedSocket, incarnation: UInt64, env: Tributary_V1_EnvSpec)
        async -> (WorkerSession.Ending, IncarnationStats)
    {
        var hello = Tributary_V1_Hello()
        hello.protocolVersions = config.protocolVersions
        hello.workerID = config.workerID
        hello.incarnation = incarnation
        hello.host = ProcessInfo.processInfo.hostName
        hello.env = env
        hello.capabilities = ["weights.v1"]
        hello.pid = UInt32(getpid())
        hello.softwareVersion = BuildInfo.softwareVersion
        var settings = WorkerSession.Settings()
        settings.helloTimeout = config.helloTimeout
        settings.heartbeatInterval = config.heartbeatInterval
        settings.liveness = config.liveness
        settings.chunkBudget = config.maxChunks.map { $0 - min($0, totalSent) }
        settings.chunkInterval = config.chunkInterval
        var session = WorkerSession(incarnation: incarnation, hello: hello, settings: settings, now: .now)
        var welcome: Tributary_V1_Welcome?
        let failuresBefore = handshakes.failures
        var actions = session.start(now: .now)
        // A worker that waited more than `idleBeforeRefresh` for a credit asks for the newest
        // weights when it gets one (`VariableClient.refresh`) and acts once they are in, or
        // after `freshWeightsWait` with what it has. One whose credits keep coming acts at once.
        // Only a worker holding credits (or without weights) fetches at all.
        var heldCredits = false
        var idleSince = ContinuousClock.now
        var fresh: (ticket: UInt64, until: ContinuousClock.Instant)?
        while true {
            for action in actions {
                switch action {
                case .send(let body):
                    reactor.send(data.id, WireCodec.encode(body, version: config.headerVersion))
                case .welcomed(let w):
                    welcome = w
                    welcomed(w, incarnation: incarnation, env: env, record: session.record)
                case .wantWeights(let version):
                    client.want(version)
                case .sendChunks(let first, let count):
                    if let failure = sendChunks(data, runID: welcome?.runID ?? "", incarnation: incarnation, first: first, count: count,
                                                limit: Int(welcome?.maxMessageBytes ?? UInt64.max)) {
                        return (.fatal(failure), session.record)
                    }
                case .end(let ending):
                    return (ending, session.record)
                }
            }
            actions = []
            if !session.isWelcomed {
                // Refused at the handshake (CURVE): give up after a few, retry at once otherwise.
                if let refusal = handshakes.refusal(endpoint: config.dataEndpoint, curve: config.security != .plaintext) {
                    return (.fatal(WorkerError(code: .unauthorized, description: refusal)), session.record)
                }
                if handshakes.failures > failuresBefore {
                    actions = session.transportEnded("the handshake with \(config.dataEndpoint) failed")
                    continue
                }
            }
            let ready = weightsReady(welcome) && fresh == nil
            // Take what is already there without arming a timer; wait only when idle.
            let received: Mailbox<InboundMessage>.Received
            if let waiting = data.inbox.tryReceive() {
                received = .message(waiting)
            } else {
                let starved = session.isWelcomed && ready && session.credits == 0 && !session.isDraining
                let began = ContinuousClock.now
                received = await data.inbox.receive(timeout: session.wait(now: began, weightsReady: ready))
                if starved { creditWait += .now - began }
            }
            switch received {
            case .message(let m):
                if let body = decode(m) { actions += session.receive(body, now: .now) }
            case .closed where !Task.isCancelled:
                actions += session.transportEnded("socket closed")
            case .closed, .timedOut:
                break
            }
            // Credits just arrived (this worker held none): fetch the newest weights, and act
            // once they are in (or `freshWeightsWait` has passed).
            let holds = session.credits > 0
            let hasWeights = weightsReady(welcome)
            client.setActive(holds || !hasWeights)
            if holds, !heldCredits, session.isWelcomed, ContinuousClock.now - idleSince > Self.idleBeforeRefresh {
                fresh = (client.refresh(), .now + Self.freshWeightsWait)
            }
            if let f = fresh, client.finishedFetches > f.ticket || ContinuousClock.now >= f.until { fresh = nil }
            actions += session.tick(now: .now, weightsReady: hasWeights && fresh == nil, stopRequested: Task.isCancelled,
                                    actingVersion: client.version)
            // What tick sent spent the credits: a worker left with none stops fetching.
            if holds, session.credits == 0 { idleSince = .now }
            heldCredits = session.credits > 0
            if !heldCredits, hasWeights { client.setActive(false) }
        }
    }

    /// A Welcome arrived: the run's weights, the chunk source for its unroll length, the event.
    private mutating func welcomed(_ w: Tributary_V1_Welcome, incarnation: UInt64, env: Tributary_V1_EnvSpec, record: IncarnationStats) {
        stats.update(record)
        events(.session(WorkerSessionStarted(incarnation: incarnation, runID: w.runID)))
        logger.info("incarnation \(incarnation) welcomed by run \(w.runID): T=\(w.unrollLength), \(w.initialCredits) credits")
        client.begin(runID: w.runID)
        if source == nil || source!.unrollLength != Int(w.unrollLength) {
            let seed = config.seed ?? WorkerConfig.derivedSeed(workerID: config.workerID, incarnation: incarnation)
            if config.seed == nil { logger.info("seed \(seed) (derived from the worker id and incarnation \(incarnation); --seed fixes it)") }
            source = makeSource(env, unrollLength: Int(w.unrollLength), seed: seed)
        }
        if source!.needsPolicy && w.model.family != ActorCritic.family {
            logger.warning("the learner trains a '\(w.model.family)' model (start it with --env \(config.envID)); this worker acts only once it gets an actor-critic")
        }
    }

    /// Whether the worker holds the weights it must act with: any version for the synthetic
    /// source when the learner has published one, an actor-critic it can run otherwise.
    private func weightsReady(_ w: Tributary_V1_Welcome?) -> Bool {
        guard let w, let source else { return false }
        let needsWeights = w.currentWeights.version > 0 || source.needsPolicy
        return !needsWeights || (source.needsPolicy ? client.policy.network != nil : client.version > 0)
    }

    /// Builds and sends `count` chunks; a chunk above the learner's message limit is fatal.
    private mutating func sendChunks(_ data: OpenedSocket, runID: String, incarnation: UInt64, first: UInt64, count: Int,
                                     limit: Int) -> WorkerError? {
        if !announcedActing {
            announcedActing = true
            events(.acting(WorkerActing(incarnation: incarnation, unixTime: Date().timeIntervalSince1970)))
        }
        var burst: [[OwnedFrame]] = []
        let policy = client.policy
        for k in 0..<count {
            let frames = source!.next(runID: runID, workerID: config.workerID, incarnation: incarnation,
                                      sequence: first + UInt64(k), policy: policy)
            let total = frames.reduce(0) { $0 + $1.count }
            if total > limit {
                return WorkerError(code: .refused, description: "a chunk of \(total) bytes exceeds the learner's limit of \(limit); use fewer envs or a smaller observation")
            }
            burst.append(frames)
        }
        totalSent += UInt64(count)
        reactor.send(data.id, messages: burst)
        let now = ContinuousClock.now
        if now - summaryAt >= Self.summaryEvery {
            // One line every 10 s, so an operator reading the worker's log sees it work.
            let seconds = (now - summaryAt).inSeconds
            let chunks = totalSent - sentAtSummary
            let steps = Double(chunks) * Double(source!.unrollLength) * Double(config.numEnvs)
            let waited = 100 * creditWait.inSeconds / seconds
            logger.info("last \(Int(seconds.rounded())) s: \(chunks) chunks, \(Int(steps / seconds)) env steps/s, \(String(format: "%.0f", waited)) % of the time waiting for credits, acting with policy version \(client.version); \(totalSent) chunks sent by this process")
            (summaryAt, sentAtSummary, creditWait) = (now, totalSent, .zero)
        }
        if traceChunks {
            for s in first..<(first + UInt64(count)) { events(.chunkSent(WorkerChunkSent(incarnation: incarnation, sequence: s))) }
        }
        return nil
    }

    private func envSpec() throws -> Tributary_V1_EnvSpec {
        if config.envID == "synthetic" {
            return SyntheticSource.envSpec(numEnvs: config.numEnvs, observationSize: config.observationSize)
        }
        guard let info = EnvironmentRegistry.spec(config.envID) else {
            throw WorkerError(code: .refused, description: "unknown environment '\(config.envID)'; known: synthetic, \(EnvironmentRegistry.ids.joined(separator: ", "))")
        }
        return info.wire(numEnvs: Int(config.numEnvs))
    }

    private func makeSource(_ env: Tributary_V1_EnvSpec, unrollLength: Int, seed: UInt64) -> any ChunkSource {
        if config.envID == "synthetic" {
            return SyntheticSource(spec: env, unrollLength: unrollLength, episodeLength: config.episodeLength, seed: seed)
        }
        if EnvironmentRegistry.sequenceTask(config.envID) != nil {
            if let grouped = GroupedSequenceSource(envID: config.envID, groupSize: Int(config.numEnvs),
                                                   promptsPerRound: config.promptsPerRound, seed: seed),
               grouped.unrollLength == unrollLength {
                return grouped
            }
            logger.warning("the learner asks for T=\(unrollLength) but a '\(config.envID)' answer has a different length: acting without groups")
        }
        // envSpec() checked the id.
        return EnvironmentSource(envID: config.envID, numEnvs: Int(config.numEnvs), unrollLength: unrollLength, seed: seed)!
    }

    private func decode(_ m: InboundMessage) -> WireBody? {
        do {
            return try WireCodec.decode(m.frames).body
        } catch {
            // A Reject is readable whatever our version: it is always written as version 1.
            logger.warning("unreadable message from the learner: \(error)")
            return nil
        }
    }
}
