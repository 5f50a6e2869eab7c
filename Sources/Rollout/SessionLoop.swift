import Environments
import Foundation
import Logging
import Protocol
import Transport

/// The worker's outer loop: one iteration per incarnation (Hello → Welcome → stream).
struct SessionLoop {
    let config: WorkerConfig
    let logger: Logger
    let reactor: SocketReactor
    let client: VariableClient
    let traceChunks: Bool
    let events: @Sendable (WorkerEvent) -> Void
    let stats: StatsBox

    /// Chunks sent over all incarnations.
    private var totalSent: UInt64 = 0
    /// The data socket's handshakes, across incarnations: a learner that keeps refusing this
    /// worker's key ends the worker with a reason instead of endless retries.
    private let handshakes: HandshakeWatch
    private var source: (any ChunkSource)?
    /// Whether the `acting` event (the first environment step of this process) went out.
    private var announcedActing = false

    init(config: WorkerConfig, logger: Logger, reactor: SocketReactor, client: VariableClient,
         traceChunks: Bool, events: @escaping @Sendable (WorkerEvent) -> Void, stats: StatsBox) {
        self.config = config
        self.logger = logger
        self.reactor = reactor
        self.client = client
        self.traceChunks = traceChunks
        self.events = events
        self.stats = stats
        self.handshakes = HandshakeWatch(limit: config.handshakeFailureLimit)
    }

    enum Ending {
        case finished       // maxChunks sent and confirmed, or shutdown: said Goodbye
        case reconnect      // learner gone or forgot us: new incarnation
    }

    mutating func run() async throws {
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
            var record = IncarnationStats(incarnation: incarnation)
            let ending: Ending
            do {
                ending = try await session(data: data, incarnation: incarnation, record: &record, backoff: &backoff)
            } catch {
                record.ended = "fatal: \(error)"
                stats.update(record)
                await reactor.close(data.id, lingerMilliseconds: 200)
                throw error
            }
            record.unconfirmed = record.sent - min(record.sent, record.acked + record.rejected.values.reduce(0, +))
            stats.update(record)
            switch ending {
            case .finished:
                await reactor.close(data.id, lingerMilliseconds: 1000)
                return
            case .reconnect:
                // Linger 0: chunks still queued for the old learner are dropped here and
                // show up as this incarnation's `unconfirmed`.
                await reactor.close(data.id, lingerMilliseconds: 0)
                if !record.welcomed {
                    logger.info("retrying in \(backoff)")
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, config.backoffMax)
                }
            }
        }
    }

    private func send(_ data: OpenedSocket, _ body: WireBody) {
        reactor.send(data.id, WireCodec.encode(body, version: config.headerVersion))
    }

    private mutating func session(
        data: OpenedSocket, incarnation: UInt64, record: inout IncarnationStats, backoff: inout Duration
    ) async throws -> Ending {
        let env = try envSpec()
        var hello = Tributary_V1_Hello()
        hello.protocolVersions = config.protocolVersions
        hello.workerID = config.workerID
        hello.incarnation = incarnation
        hello.host = ProcessInfo.processInfo.hostName
        hello.env = env
        hello.capabilities = ["weights.v1"]
        hello.pid = UInt32(getpid())
        hello.softwareVersion = "tributary 0.1"
        send(data, .hello(hello))

        // 1. Welcome, or a refusal, within the Hello timeout.
        let deadline = ContinuousClock.now + config.helloTimeout
        let failuresBefore = handshakes.failures
        var welcome: Tributary_V1_Welcome?
        while welcome == nil {
            let left = deadline - .now
            if Task.isCancelled { record.ended = "shutdown before Welcome"; return .finished }
            if let refusal = handshakes.refusal(endpoint: config.dataEndpoint) {
                throw WorkerError(code: .unauthorized, description: refusal)
            }
            if handshakes.failures > failuresBefore {
                record.ended = "handshake failed"
                logger.warning("the handshake with \(config.dataEndpoint) failed; retrying")
                return .reconnect
            }
            guard left > .zero else {
                record.ended = "no Welcome within \(config.helloTimeout)"
                logger.warning("no Welcome from \(config.dataEndpoint) within \(config.helloTimeout)")
                return .reconnect
            }
            switch await data.inbox.receive(timeout: min(left, .milliseconds(200))) {
            case .closed: record.ended = "shutdown before Welcome"; return .finished
            case .timedOut: continue
            case .message(let m):
                switch decode(m) {
                case .welcome(let w)?: welcome = w
                case .reject(let r)?:
                    try fatalIfUnfixable(r)
                    record.ended = "Hello refused: \(r.reason)"
                    logger.warning("Hello refused (\(r.code)): \(r.reason)")
                    return .reconnect
                default: continue
                }
            }
        }
        let w = welcome!
        backoff = config.backoffInitial
        record.welcomed = true
        stats.update(record)
        events(.session(incarnation: incarnation, runID: w.runID))
        logger.info("incarnation \(incarnation) welcomed by run \(w.runID): T=\(w.unrollLength), \(w.initialCredits) credits")
        client.begin(runID: w.runID)
        client.want(w.currentWeights.version)
        let heartbeat = w.heartbeatIntervalMs > 0 ? Duration.milliseconds(w.heartbeatIntervalMs) : config.heartbeatInterval
        let liveness = w.livenessMs > 0 ? Duration.milliseconds(w.livenessMs) : config.liveness
        if source == nil || source!.unrollLength != Int(w.unrollLength) {
            source = try makeSource(env, unrollLength: Int(w.unrollLength))
        }

        // 2. Stream under credits.
        var credits = w.initialCredits
        var sequence: UInt64 = 0
        var lastHeard = ContinuousClock.now
        var lastSent = ContinuousClock.now
        var nextChunkAt = ContinuousClock.now
        var drainingSince: ContinuousClock.Instant?
        let needsWeights = w.currentWeights.version > 0 || source!.needsPolicy
        if source!.needsPolicy && w.model.family != "mlp-actor-critic" {
            logger.warning("the learner trains a '\(w.model.family)' model (start it with --env \(config.envID)); this worker acts only once it gets an actor-critic")
        }
        func ready() -> Bool { !needsWeights || (source!.needsPolicy ? client.policy.network != nil : client.version > 0) }
        while true {
            let now = ContinuousClock.now
            let done = config.maxChunks.map { totalSent >= $0 } ?? false
            if Task.isCancelled || done {
                // Wait (at most a second) until the learner confirmed every chunk, then say Goodbye.
                drainingSince = drainingSince ?? now
                let confirmed = record.acked + record.rejected.values.reduce(0, +)
                if confirmed >= record.sent || now - drainingSince! > min(liveness, .seconds(1)) {
                    var bye = Tributary_V1_Goodbye()
                    bye.reason = done ? "sent \(totalSent) chunks" : "shutdown"
                    bye.chunksSent = record.sent
                    send(data, .goodbye(bye))
                    record.ended = "goodbye: \(bye.reason)"
                    return .finished
                }
            }
            var burst: [[OwnedFrame]] = []
            while drainingSince == nil, credits > 0, now >= nextChunkAt, ready() {
                if !announcedActing {
                    announcedActing = true
                    events(.acting(incarnation: incarnation, unixTime: Date().timeIntervalSince1970))
                }
                let frames = source!.next(
                    runID: w.runID, workerID: config.workerID, incarnation: incarnation,
                    sequence: sequence, policy: client.policy)
                let total = frames.reduce(0) { $0 + $1.count }
                if total > Int(w.maxMessageBytes) {
                    throw WorkerError(code: .refused, description: "a chunk of \(total) bytes exceeds the learner's limit of \(w.maxMessageBytes); use fewer envs or a smaller observation")
                }
                burst.append(frames)
                sequence += 1
                credits -= 1
                record.sent += 1
                totalSent += 1
                lastSent = now
                if let interval = config.chunkInterval { nextChunkAt = now + interval }
                if config.maxChunks.map({ totalSent >= $0 }) ?? false { break }
            }
            if !burst.isEmpty {
                reactor.send(data.id, messages: burst)
                if traceChunks {
                    for s in (sequence - UInt64(burst.count))..<sequence { events(.chunkSent(incarnation: incarnation, sequence: s)) }
                }
            }
            var wait = heartbeat / 2
            if config.chunkInterval != nil, credits > 0 { wait = min(wait, max(.milliseconds(1), nextChunkAt - now)) }
            if drainingSince != nil || !ready() { wait = min(wait, .milliseconds(20)) }
            // Take what is already there without arming a timer; wait only when idle.
            let received: Mailbox<InboundMessage>.Received
            if let ready = data.inbox.tryReceive() {
                received = .message(ready)
            } else {
                received = await data.inbox.receive(timeout: wait)
            }
            if case .message(let m) = received {
                lastHeard = .now
                switch decode(m) {
                case .credit(let c)?:
                    credits += c.credits
                    record.acked = max(record.acked, c.ackedChunks)
                case .reject(let r)?:
                    try fatalIfUnfixable(r)
                    credits += r.creditsReturned
                    let code = ProtocolError.Code(wire: r.code)?.name ?? "code_\(r.code.rawValue)"
                    if r.rejectedType == UInt32(MessageType.trajectoryChunk.rawValue) {
                        record.rejected[code, default: 0] += 1
                    }
                    logger.warning("learner refused \(MessageType(rawValue: UInt8(truncatingIfNeeded: r.rejectedType))?.description ?? "a message"): \(code): \(r.reason)")
                    if r.code == .unknownWorker || r.code == .shuttingDown {
                        record.ended = "learner: \(r.reason)"
                        return .reconnect
                    }
                case .heartbeat(let h)?:
                    client.want(h.policyVersion)
                default:
                    break
                }
            } else if case .closed = received, !Task.isCancelled {
                record.ended = "socket closed"
                return .finished
            }
            let after = ContinuousClock.now
            if after - lastHeard > liveness {
                record.ended = "learner silent for \((after - lastHeard).milliseconds) ms"
                logger.warning("learner silent for \((after - lastHeard).milliseconds) ms; reconnecting as a new incarnation")
                return .reconnect
            }
            if after - lastSent >= heartbeat {
                var beat = Tributary_V1_Heartbeat()
                beat.unixMs = UInt64(Date().timeIntervalSince1970 * 1000)
                beat.policyVersion = client.version
                send(data, .heartbeat(beat))
                lastSent = after
            }
        }
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

    private func makeSource(_ env: Tributary_V1_EnvSpec, unrollLength: Int) throws -> any ChunkSource {
        if config.envID == "synthetic" {
            return SyntheticSource(spec: env, unrollLength: unrollLength, episodeLength: config.episodeLength, seed: config.seed)
        }
        guard let source = EnvironmentSource(envID: config.envID, numEnvs: Int(config.numEnvs), unrollLength: unrollLength, seed: config.seed) else {
            throw WorkerError(code: .refused, description: "unknown environment '\(config.envID)'")
        }
        return source
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

    /// Refusals that retrying cannot fix end the worker with the learner's reason: its protocol
    /// version (exit 3), its key (exit 4), or its configuration (exit 2: another environment,
    /// sizes or fields beyond the learner's limits).
    private func fatalIfUnfixable(_ r: Tributary_V1_Reject) throws {
        switch r.code {
        case .unsupportedVersion:
            throw WorkerError(code: .unsupportedVersion, description: "the learner refused this worker's protocol version: \(r.reason)")
        case .unauthorized:
            throw WorkerError(code: .unauthorized, description: "the learner refused this worker's key: \(r.reason)")
        case .envMismatch, .fieldTooLong:
            throw WorkerError(code: .refused, description: "the learner refused this worker's configuration (\(ProtocolError.Code(wire: r.code)?.name ?? "refused")): \(r.reason)")
        case .oversize where r.rejectedType == UInt32(MessageType.hello.rawValue):
            throw WorkerError(code: .refused, description: "the learner refused this worker's configuration (oversize): \(r.reason)")
        default:
            return
        }
    }
}
