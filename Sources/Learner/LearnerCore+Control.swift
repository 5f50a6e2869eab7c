import Experience
import Foundation
import Protocol

extension LearnerCore {
    /// Handles one message from the control ROUTER (`requester` is its routing identity).
    public func handleControl(from requester: [UInt8], frames: [any MessageFrame], truncated: Bool = false,
                              peer: PeerIdentity = PeerIdentity(), now: ContinuousClock.Instant = .now) {
        let replies: [[OwnedFrame]] = state.withLock { s in
            func refuse(_ error: ProtocolError) -> [[OwnedFrame]] {
                s.counters.rejected[error.code.name, default: 0] += 1
                s.log.warning(logger, reason: "control-" + error.code.name, "refused control message: \(error)", now: now)
                return [WireCodec.reject(error, rejectedType: WireCodec.peekHeader(frames)?.rawType ?? 0)]
            }
            if truncated { return refuse(ProtocolError(.malformed, "more frames than the transport keeps per message")) }
            guard access.allows(peer, on: "control") else {
                return refuse(ProtocolError(.unauthorized, "the key \(peer.keyName.map { "'\($0)'" } ?? "(none)") is not enrolled"))
            }
            let message: DecodedMessage
            do throws(ProtocolError) {
                message = try WireCodec.decode(frames, limits: limits)
            } catch {
                return refuse(error)
            }
            switch message.body {
            case .getWeights(let request):
                if request.haveVersion == s.weights.version { return [s.weights.notModified()] }
                // Encoded once, when the version was published (outside this lock).
                return s.weights.encodedParts ?? s.weights.parts(partBytes: config.weightsPartBytes)
            case .statusRequest(let request):
                return [WireCodec.encode(.statusReply(status(s, includeWorkers: request.includeWorkers, now: now)))]
            default:
                return refuse(ProtocolError(.unknownType, "\(message.body.type) is not accepted on the control socket"))
            }
        }
        for reply in replies { send(.control(requester), reply) }
    }

    /// The status reply as of now (also used for the exit summary).
    public func status(includeWorkers: Bool = true, now: ContinuousClock.Instant = .now) -> Tributary_V1_StatusReply {
        state.withLock { status($0, includeWorkers: includeWorkers, now: now) }
    }

    func status(_ s: State, includeWorkers: Bool, now: ContinuousClock.Instant) -> Tributary_V1_StatusReply {
        var r = Tributary_V1_StatusReply()
        r.runID = runID
        r.uptimeMs = UInt64(max(0, (now - started).milliseconds))
        r.policyVersion = s.policyVersion
        r.protocolVersion = UInt32(ProtocolVersion.current)
        r.chunksReceived = s.counters.chunksReceived
        r.chunksAccepted = s.counters.chunksAccepted
        r.chunksConsumed = s.counters.chunksConsumed
        r.messagesReceived = s.counters.messagesReceived
        r.rejected = s.counters.rejected
        r.rejectedChunks = s.counters.rejectedChunks
        r.workersConnected = UInt32(s.sessions.count)
        r.workersExpired = s.counters.workersExpired
        r.workersLeft = ["expired": s.counters.workersExpired, "goodbye": s.counters.workersSaidGoodbye, "replaced": s.counters.workersReplaced,
                         "disconnected": s.counters.workersDisconnected]
        r.bytesReceived = s.counters.bytesReceived
        r.stepsReceived = s.counters.stepsReceived
        r.updates = s.training.updates
        r.episodes = s.training.episodes
        r.meanReturn100 = s.recentReturns.isEmpty ? 0 : s.recentReturns.reduce(0, +) / Double(s.recentReturns.count)
        r.lagMean = s.training.lagMean
        r.lagMax = s.training.lagMax
        r.lagMin = s.training.lagMin
        r.envStepsPerSecond = s.stepRate.perSecond
        r.updatesPerSecond = s.updateRate.perSecond
        r.updatesSkipped = s.skipped
        (r.health, r.healthReason) = health(s)
        r.episodesUnverified = s.episodesUnverified
        r.security = config.security
        r.transport.connectionsAccepted = s.transport.connectionsAccepted
        r.transport.connectionsClosed = s.transport.connectionsClosed
        r.transport.handshakesFailed = s.transport.handshakesFailed
        r.transport.messagesTruncated = s.transport.messagesTruncated
        r.admission.maxWorkers = UInt32(clamping: config.maxWorkers)
        r.admission.memoryBudgetBytes = UInt64(config.memoryBudgetBytes)
        r.admission.memoryHeldBytes = UInt64(max(0, store.bufferedBytes + s.creditBytesInFlight))
        r.admission.maxChunkSteps = UInt64(config.maxChunkSteps)
        r.admission.creditsInFlight = UInt64(max(0, s.creditsInFlight))
        // The buffer's own lock is taken inside the core's (never the other way round).
        let (accounting, trained, dropped, trainedBy, droppedBy, columns, inFlight, inQueue) = store.read { b in
            (b.accounting, b.trainedLags, b.droppedLags, b.trainedLagsBySource, b.droppedLagsBySource, b.bufferedColumns,
             b.trainedInFlightLags, b.trainedInQueueLags)
        }
        r.bufferedChunks = accounting.buffered
        r.bufferedColumns = UInt64(columns)
        r.accounting = .init(accounting)
        r.trainedLag = .init(trained)
        r.droppedLag = .init(dropped)
        r.trainedInFlightLag = .init(inFlight)
        r.trainedInQueueLag = .init(inQueue)
        r.buffer = bufferConfig
        let a = s.admission
        if let eta = a.eta { r.buffer.admissionEta = eta }
        if let lag = a.windowLag { r.buffer.windowLag = lag }
        (r.buffer.etaLowered, r.buffer.etaRaised) = (a.lowered, a.raised)
        if s.training.updates > 0 {
            let t = s.training
            (r.training.loss, r.training.policyLoss, r.training.valueLoss, r.training.entropy, r.training.approxKl) =
                (t.loss, t.policyLoss, t.valueLoss, t.entropy, t.approxKL)
            (r.training.maskedFraction, r.training.meanAbsLogRatio) = (t.correction.maskedFraction, t.correction.meanAbsLogRatio)
            if t.correction.groups > 0 {
                r.training.groups = UInt32(t.correction.groups)
                (r.training.zeroAdvantageGroupFraction, r.training.rewardMean, r.training.rewardStd) =
                    (t.correction.zeroAdvantageGroupFraction, t.correction.rewardMean, t.correction.rewardStd)
            }
        }
        if let e = s.evaluation {
            (r.training.evalMeanReturn, r.training.evalStdReturn, r.training.evalUpdate) = (e.mean, e.std, e.update)
        }
        if let best = s.bestEvaluation { r.training.bestEvalReturn = best }
        r.refused = s.refusedHellos.map { h in
            var p = Tributary_V1_RefusedPeer()
            (p.workerID, p.host, p.peerAddress, p.keyName) = (h.workerID, h.host, h.peer.address, h.peer.keyName ?? "")
            (p.code, p.detail, p.count) = (h.code, h.detail, h.count)
            p.lastMsAgo = UInt64(max(0, (now - h.last).milliseconds))
            return p
        }
        if includeWorkers {
            func row(_ session: Session, expired: String?) -> Tributary_V1_WorkerStatus {
                var w = Tributary_V1_WorkerStatus()
                w.workerID = session.workerID
                w.incarnation = session.incarnation
                w.host = session.host
                w.envID = environment.id
                w.keyName = session.peer.keyName ?? ""
                w.peerAddress = session.peer.address
                w.episodesUnverified = session.episodesUnverified
                w.chunksReceived = session.received
                w.chunksRejected = session.rejected
                w.creditsOutstanding = session.credits
                w.lastSeenMsAgo = UInt64(max(0, (now - session.lastHeard).milliseconds))
                w.actingVersion = session.actingVersion
                w.expired = expired != nil
                w.expiredReason = expired ?? ""
                w.chunksReportedSent = session.reportedSent
                w.chunksConsumed = session.consumed
                if expired == nil {
                    w.chunksPerSecond = session.chunkRate.perSecond
                    w.stepsPerSecond = session.stepRate.perSecond
                }
                return w
            }
            let live = s.sessions.sorted { ($0.value.workerID, $0.value.incarnation) < ($1.value.workerID, $1.value.incarnation) }
                .map { (key: $0.key, row: row($0.value, expired: nil)) }
            let gone = s.departed.map { (key: $0.key, row: row($0.session, expired: $0.reason)) }
            r.workers = (live + gone).map { entry in
                var w = entry.row
                // Histograms are kept per connection; a replaced or returning connection's
                // rows share them (they are the same worker).
                if let h = trainedBy[entry.key] { w.trainedLag = .init(h) }
                if let h = droppedBy[entry.key] { w.droppedLag = .init(h) }
                return w
            }
        }
        return r
    }
}

extension LearnerCore {
    /// The run's staleness settings, for the status reply.
    var bufferConfig: Tributary_V1_BufferConfig {
        var c = Tributary_V1_BufferConfig()
        let p = store.policy
        if let eta = config.buffer.eta { c.eta = eta }
        if case .target(let lag) = config.buffer.admissionMode { c.lagTarget = lag }
        if let maxLag = p.maxLag { c.maxLag = maxLag }
        c.maxReuse = UInt32(p.maxReuse)
        switch p.order {
        case .fifo: c.order = "fifo"
        case .newestFirst(let k): c.order = "newest-first(k=\(k))"
        }
        c.capacityChunks = UInt64(p.capacity)
        if let r = p.samplesPerInsert { c.samplesPerInsert = r }
        if let k = p.groupSize { c.groupSize = UInt32(k) }
        c.correction = config.envID == "synthetic" ? "none (stand-in trainer)" : config.training.objectiveName
        c.batchColumns = UInt32(config.training.batchColumns)
        return c
    }
}

extension Tributary_V1_BufferAccounting {
    init(_ a: BufferAccounting) {
        self.init()
        received = a.received
        trained = a.trained
        dropped = Dictionary(uniqueKeysWithValues: a.dropped.map { ($0.key.rawValue, $0.value) })
        buffered = a.buffered
        trainedExits = Dictionary(uniqueKeysWithValues: a.trainedExits.map { ($0.key.rawValue, $0.value) })
        trainingUses = a.trainingUses
        insertedColumns = a.insertedColumns
        sampledColumns = a.sampledColumns
        groupsTrained = a.groupsTrained
        groupsTimedOut = a.groupsTimedOut
    }
}
