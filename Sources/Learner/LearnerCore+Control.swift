import Foundation
import Protocol

extension LearnerCore {
    /// Handles one message from the control ROUTER (`requester` is its routing identity).
    public func handleControl(from requester: [UInt8], frames: [any MessageFrame], truncated: Bool = false, now: ContinuousClock.Instant = .now) {
        let replies: [[OwnedFrame]] = state.withLock { s in
            func refuse(_ error: ProtocolError) -> [[OwnedFrame]] {
                s.counters.rejected[error.code.name, default: 0] += 1
                s.log.warning(logger, reason: "control-" + error.code.name, "refused control message: \(error)", now: now)
                return [WireCodec.reject(error, rejectedType: WireCodec.peekHeader(frames)?.rawType ?? 0)]
            }
            if truncated { return refuse(ProtocolError(.malformed, "more frames than the transport keeps per message")) }
            let message: DecodedMessage
            do throws(ProtocolError) {
                message = try WireCodec.decode(frames, limits: limits)
            } catch {
                return refuse(error)
            }
            switch message.body {
            case .getWeights(let request):
                if request.haveVersion == s.weights.version { return [s.weights.notModified()] }
                return s.weights.parts(partBytes: config.weightsPartBytes)
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
        r.bufferedChunks = s.counters.chunksAccepted - s.counters.chunksConsumed
        r.bytesReceived = s.counters.bytesReceived
        r.stepsReceived = s.counters.stepsReceived
        r.updates = s.training.updates
        r.episodes = s.training.episodes
        r.meanReturn100 = s.recentReturns.isEmpty ? 0 : s.recentReturns.reduce(0, +) / Double(s.recentReturns.count)
        r.lagMean = s.training.lagMean
        r.lagMax = s.training.lagMax
        r.lagMin = s.training.lagMin
        if includeWorkers {
            func row(_ session: Session, expired: String?) -> Tributary_V1_WorkerStatus {
                var w = Tributary_V1_WorkerStatus()
                w.workerID = session.workerID
                w.incarnation = session.incarnation
                w.host = session.host
                w.envID = session.env.envID
                w.chunksReceived = session.received
                w.chunksRejected = session.rejected
                w.creditsOutstanding = session.credits
                w.lastSeenMsAgo = UInt64(max(0, (now - session.lastHeard).milliseconds))
                w.actingVersion = session.actingVersion
                w.expired = expired != nil
                w.expiredReason = expired ?? ""
                w.chunksReportedSent = session.reportedSent
                return w
            }
            r.workers = s.sessions.values.sorted { ($0.workerID, $0.incarnation) < ($1.workerID, $1.incarnation) }
                .map { row($0, expired: nil) }
                + s.departed.map { row($0.session, expired: $0.reason) }
        }
        return r
    }
}
