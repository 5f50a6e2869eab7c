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

/// The rollout worker on its socket thread (`SocketThreadDriver`): the sockets, the protocol
/// (`WorkerSession`, socket-free), the weights (`VariableClient`, socket-free), acting and
/// sending, all on the one thread that owns the sockets. A chunk costs no hand-off between
/// threads on the worker's side: the credit is read, the newest weights fetched, the
/// environments stepped and the chunk sent by the same thread, which sleeps in `zmq_poll`
/// between steps (docs/architecture.md, "The worker lives on its socket thread").
///
/// Reconnecting is the outermost loop (SEED RL's habit): one session per incarnation, so
/// nothing the learner does can stop the worker but a refusal it cannot fix or a shutdown.
final class WorkerDriver: SocketThreadDriver, @unchecked Sendable {
    /// How the worker ended: said Goodbye, or refused for good, or could not open its sockets.
    enum Outcome {
        case finished
        case failed(any Error)
    }

    let config: WorkerConfig
    let logger: Logger
    let trace: WorkerTrace
    let events: @Sendable (WorkerEvent) -> Void
    let stats: StatsBox
    /// Set from another thread (shutdown); read on the socket thread.
    private let stop = Mutex(false)
    /// What `step` returned `.finished` for; read once `SocketReactor.drive` returned.
    private(set) var outcome: Outcome?

    // Everything below is touched only on the socket thread.
    private var sub: SocketID?
    private var control: SocketID?
    private var client: VariableClient
    private var env = Tributary_V1_EnvSpec()
    private var backoff: Duration
    /// When the next incarnation may begin (a backoff after a session that was never welcomed).
    private var retryAt: ContinuousClock.Instant?
    private var current: Incarnation?
    /// What the handlers received since the last step.
    private var dataReceived: [InboundMessage] = []
    /// Whether the data socket is connected (its monitor's last word).
    private var dataConnected = false

    /// One incarnation under way (a class: the step and the actions it carries out change the
    /// same one, touched only on the socket thread).
    final class Incarnation {
        var session: WorkerSession
        let data: SocketID
        let id: UInt64
        var welcome: Tributary_V1_Welcome?
        let handshakeFailuresBefore: Int
        /// Whether the worker held credits at the end of the last step, and since when it holds
        /// none: a worker that waited longer than `idleBeforeRefresh` fetches the newest weights
        /// before it acts on a new credit.
        var heldCredits = false
        var idleSince = ContinuousClock.now
        var fresh: (ticket: UInt64, until: ContinuousClock.Instant)?
        /// Since when the worker, welcomed and with weights, waits for a credit.
        var starvedSince: ContinuousClock.Instant?

        init(session: WorkerSession, data: SocketID, id: UInt64, handshakeFailuresBefore: Int) {
            self.session = session
            self.data = data
            self.id = id
            self.handshakeFailuresBefore = handshakeFailuresBefore
        }
    }

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

    init(config: WorkerConfig, logger: Logger, trace: WorkerTrace, events: @escaping @Sendable (WorkerEvent) -> Void, stats: StatsBox) {
        self.config = config
        self.logger = logger
        self.trace = trace
        self.events = events
        self.stats = stats
        self.handshakes = HandshakeWatch(limit: config.handshakeFailureLimit)
        self.client = VariableClient(timeout: config.liveness)
        self.backoff = config.backoffInitial
    }

    /// Stop: the session drains, says Goodbye, and the driver finishes. Any thread.
    func requestStop() { stop.withLock { $0 = true } }
    private var stopRequested: Bool { stop.withLock { $0 } }

    func step(_ thread: SocketThread) -> DriverStep {
        if sub == nil {
            do {
                try openWeightsSockets(thread)
            } catch {
                return finish(.failed(error))
            }
        }
        // Weights first: an answer that arrived with the credit is installed before acting.
        let now = ContinuousClock.now
        if let have = client.poll(now: now) { requestWeights(have: have, thread) }
        noteFetchFailure()
        if current == nil {
            dataReceived = []
            if stopRequested { return finish(.finished) }
            if let retryAt, now < retryAt { return .wait(retryAt - now) }
            do {
                try begin(thread)
            } catch {
                return finish(.failed(error))
            }
        }
        return stepSession(thread)
    }

    private func finish(_ outcome: Outcome) -> DriverStep {
        self.outcome = outcome
        return .finished
    }

    private func openWeightsSockets(_ thread: SocketThread) throws {
        env = try envSpec()
        var subSpec = SocketSpec(kind: .subscriber)
        subSpec.connect = [config.weightsEndpoint]
        subSpec.subscriptions = [WireHeader(type: .weightsAvailable).bytes]
        subSpec.security = config.security
        // Nothing a SUB socket queues (its subscription) is worth holding the exit for.
        subSpec.lingerMilliseconds = 0
        subSpec.handler = { [unowned self] _, batch in
            for m in batch {
                guard case .weightsAvailable(let a)? = try? WireCodec.decode(m.frames).body else {
                    logger.warning("unreadable announcement on the weights socket")
                    continue
                }
                client.announced(runID: a.runID, version: a.version)
            }
        }
        var controlSpec = SocketSpec(kind: .dealer)
        controlSpec.connect = [config.controlEndpoint]
        controlSpec.lingerMilliseconds = 0
        controlSpec.security = config.security
        controlSpec.handler = { [unowned self] _, batch in
            for m in batch {
                do {
                    let answer = try WireCodec.decode(m.frames)
                    switch answer.body {
                    case .weights, .reject:
                        let before = client.version
                        client.answer(answer)
                        if trace.versions, client.version > before, let inc = current {
                            events(.actingWith(WorkerActingWith(incarnation: inc.id, version: client.version,
                                                                unixTime: Date().timeIntervalSince1970)))
                        }
                    default: logger.warning("unexpected \(answer.body.type) on the control socket")
                    }
                } catch {
                    logger.warning("unreadable message on the control socket: \(error)")
                }
            }
        }
        sub = try thread.open(subSpec).id
        control = try thread.open(controlSpec).id
    }

    private func requestWeights(have: UInt64, _ thread: SocketThread) {
        guard let control else { return }
        var r = Tributary_V1_GetWeights()
        r.haveVersion = have
        thread.send(control, WireCodec.encode(.getWeights(r)))
    }

    /// Logs a fetch that failed; the first time, and every tenth, with what the network shows.
    private var failuresLogged: UInt64 = 0
    private func noteFetchFailure() {
        guard client.failures > failuresLogged, let why = client.lastFailure else { return }
        failuresLogged = client.failures
        let logger = logger
        if why.hasPrefix("no Weights answer"), (client.failures - 1) % 10 == 0 {
            let endpoint = config.controlEndpoint
            Task.detached { logger.warning("\(why) (\(endpoint): \(ConnectionProbe.probe(endpoint)))") }
        } else {
            logger.warning("\(why)")
        }
    }

    /// A new incarnation: its data socket and its Hello.
    private func begin(_ thread: SocketThread) throws {
        // 53 random bits: unique enough, and exact as a JSON number in every language.
        let incarnation = UInt64.random(in: 1..<(1 << 53))
        var dataSpec = SocketSpec(kind: .dealer)
        dataSpec.connect = [config.dataEndpoint]
        dataSpec.lingerMilliseconds = 0
        dataSpec.security = config.security
        let watch = handshakes.onEvent
        dataSpec.onEvent = { [unowned self] id, event in
            watch(id, event)
            switch event {
            case .connected, .handshakeSucceeded: dataConnected = true
            case .disconnected: dataConnected = false
            default: break
            }
        }
        dataSpec.handler = { [unowned self] _, batch in dataReceived += batch }
        dataConnected = false
        let data = try thread.open(dataSpec)
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
        let actions = session.start(now: .now)
        current = Incarnation(session: session, data: data.id, id: incarnation, handshakeFailuresBefore: handshakes.failures)
        dataReceived = []
        _ = perform(actions, thread)
    }

    /// One step of the incarnation under way: what arrived, then time (credits, weights,
    /// heartbeats, liveness); how long it may sleep.
    private func stepSession(_ thread: SocketThread) -> DriverStep {
        guard let inc = current else { return .wait(nil) }
        var now = ContinuousClock.now
        if let since = inc.starvedSince {
            creditWait += now - since
            inc.starvedSince = nil
        }
        var actions: [WorkerSession.Action] = []
        let received = dataReceived
        dataReceived = []
        for m in received {
            if let body = decode(m) { actions += inc.session.receive(body, now: now) }
        }
        if !inc.session.isWelcomed {
            // Refused at the handshake (CURVE): give up after a few, retry at once otherwise.
            if let refusal = handshakes.refusal(endpoint: config.dataEndpoint, curve: config.security != .plaintext) {
                actions += [.end(.fatal(WorkerError(code: .unauthorized, description: refusal)))]
            } else if handshakes.failures > inc.handshakeFailuresBefore {
                actions += inc.session.transportEnded("the handshake with \(config.dataEndpoint) failed")
            }
        }
        if let step = perform(actions, thread) { return step }
        // Credits just arrived (this worker held none): fetch the newest weights, and act once
        // they are in (or `freshWeightsWait` has passed).
        let holds = inc.session.credits > 0
        var hasWeights = weightsReady(inc.welcome)
        client.setActive(holds || !hasWeights)
        if holds, !inc.heldCredits, inc.session.isWelcomed, now - inc.idleSince > Self.idleBeforeRefresh {
            inc.fresh = (client.refresh(), now + Self.freshWeightsWait)
        }
        if let have = client.poll(now: now) { requestWeights(have: have, thread) }
        if let f = inc.fresh, client.finishedFetches > f.ticket || now >= f.until { inc.fresh = nil }
        hasWeights = weightsReady(inc.welcome)
        let tickActions = inc.session.tick(now: now, weightsReady: hasWeights && inc.fresh == nil, stopRequested: stopRequested,
                                           actingVersion: client.version)
        if let step = perform(tickActions, thread) { return step }
        if !dataConnected, let step = perform(inc.session.learnerDisconnected(), thread) { return step }
        now = .now
        // What tick sent spent the credits: a worker left with none stops fetching.
        if holds, inc.session.credits == 0 { inc.idleSince = now }
        inc.heldCredits = inc.session.credits > 0
        if !inc.heldCredits, hasWeights { client.setActive(false) }
        let ready = hasWeights && inc.fresh == nil
        if inc.session.isWelcomed, ready, inc.session.credits == 0, !inc.session.isDraining { inc.starvedSince = now }
        var wait = inc.session.wait(now: now, weightsReady: ready)
        if inc.session.credits > 0, ready, !inc.session.isDraining, inc.session.settings.chunkInterval == nil { wait = .zero }
        if let f = inc.fresh { wait = min(wait, max(.zero, f.until - now)) }
        if let deadline = client.deadline { wait = min(wait, max(.zero, deadline - now)) }
        return .wait(wait)
    }

    /// Carries out a session's actions; a step result when the incarnation ended.
    private func perform(_ actions: [WorkerSession.Action], _ thread: SocketThread) -> DriverStep? {
        for action in actions {
            guard let inc = current else { return nil }
            switch action {
            case .send(let body):
                thread.send(inc.data, WireCodec.encode(body, version: config.headerVersion))
            case .welcomed(let w):
                inc.welcome = w
                welcomed(w, incarnation: inc.id, record: inc.session.record)
            case .wantWeights(let version):
                client.want(version)
            case .sendChunks(let first, let count):
                if let failure = sendChunks(thread, data: inc.data, runID: inc.welcome?.runID ?? "", incarnation: inc.id, first: first,
                                            count: count, limit: Int(inc.welcome?.maxMessageBytes ?? UInt64.max)) {
                    return ended(.fatal(failure), thread)
                }
            case .end(let ending):
                return ended(ending, thread)
            }
        }
        return nil
    }

    /// The incarnation is over: close its socket, and finish or arrange the next one.
    private func ended(_ ending: WorkerSession.Ending, _ thread: SocketThread) -> DriverStep {
        guard let inc = current else { return .wait(nil) }
        let record = inc.session.record
        stats.update(record)
        current = nil
        dataReceived = []
        switch ending {
        case .finished:
            // The Goodbye gets a second to leave; before a Welcome, or with the learner gone,
            // there is nothing to deliver (a Hello to nobody would hold the exit for that second).
            thread.close(inc.data, lingerMilliseconds: record.welcomed && dataConnected ? 1000 : 0)
            return finish(.finished)
        case .fatal(let error):
            thread.close(inc.data, lingerMilliseconds: 200)
            return finish(.failed(error))
        case .reconnect(let why):
            // Linger 0: chunks still queued for the old learner are dropped here and show up
            // as this incarnation's `unconfirmed`.
            thread.close(inc.data, lingerMilliseconds: 0)
            if record.welcomed {
                backoff = config.backoffInitial
                retryAt = nil
                logger.warning("\(why); reconnecting as a new incarnation")
            } else {
                // Nothing came back: say which kind of silence (DNS, refused, no answer).
                let logger = logger
                let wait = backoff
                if why.hasPrefix("no Welcome") {
                    let endpoint = config.dataEndpoint
                    Task.detached { logger.warning("\(why): \(ConnectionProbe.probe(endpoint)); retrying in \(wait)") }
                } else {
                    logger.warning("\(why); retrying in \(wait)")
                }
                retryAt = .now + backoff
                backoff = min(backoff * 2, config.backoffMax)
            }
            return .wait(.zero)
        }
    }

    /// A Welcome arrived: the run's weights, the chunk source for its unroll length, the event.
    private func welcomed(_ w: Tributary_V1_Welcome, incarnation: UInt64, record: IncarnationStats) {
        stats.update(record)
        events(.session(WorkerSessionStarted(incarnation: incarnation, runID: w.runID)))
        logger.info("incarnation \(incarnation) welcomed by run \(w.runID): T=\(w.unrollLength), \(w.initialCredits) credits")
        client.begin(runID: w.runID)
        if source == nil || source!.unrollLength != Int(w.unrollLength) {
            let seed = config.seed ?? WorkerConfig.derivedSeed(workerID: config.workerID, incarnation: incarnation)
            if config.seed == nil { logger.info("seed \(seed) (derived from the worker id and incarnation \(incarnation); --seed fixes it)") }
            source = makeSource(env, unrollLength: Int(w.unrollLength), seed: seed)
        }
        source!.sharesTensorFrames = w.sharedTensorFrames
        if source!.needsPolicy && w.model.family != ActorCritic.family {
            logger.warning("the learner trains a '\(w.model.family)' model (start it with --env \(config.envID)); this worker acts only once it gets an actor-critic")
        }
    }

    /// Whether the worker holds the weights it must act with: any version for the synthetic
    /// source when the learner has published one, an actor-critic it can run otherwise.
    private func weightsReady(_ w: Tributary_V1_Welcome?) -> Bool {
        guard let w, let source else { return false }
        let needsWeights = w.currentWeights.version > 0 || source.needsPolicy
        return !needsWeights || (source.needsPolicy ? client.network != nil : client.version > 0)
    }

    /// Builds and sends `count` chunks; a chunk above the learner's message limit is fatal.
    private func sendChunks(_ thread: SocketThread, data: SocketID, runID: String, incarnation: UInt64, first: UInt64, count: Int,
                            limit: Int) -> WorkerError? {
        if !announcedActing {
            announcedActing = true
            events(.acting(WorkerActing(incarnation: incarnation, unixTime: Date().timeIntervalSince1970)))
        }
        var burst: [[OwnedFrame]] = []
        burst.reserveCapacity(count)
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
        for frames in burst { thread.send(data, frames) }
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
        if trace.chunks {
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
