import Logging
import NeuralNet
import Protocol
import Synchronization
import Transport

/// Keeps the worker's copy of the policy parameters current (Acme's VariableClient).
///
/// Listens to `WeightsAvailable` on the SUB socket and fetches a newer version over the
/// control socket with `GetWeights`, at most one fetch in flight; announcements that
/// arrive meanwhile collapse into "fetch the newest". Acting never waits for it, except
/// for the very first weights.
final class VariableClient: Sendable {
    struct Current: Sendable {
        var version: UInt64 = 0
        var wanted: UInt64 = 0
        var bytes: [UInt8] = []
        /// The network built from `bytes` when the model is one this worker can act with.
        var network: ActorCritic?
        var fetches: UInt64 = 0
        var failures: UInt64 = 0
        /// The run these weights belong to; a session with another run starts over.
        var runID = ""
        /// Bumped by `reset`: a fetch begun before it must not install its result.
        var generation: UInt64 = 0
    }

    let reactor: SocketReactor
    let sub: OpenedSocket
    let control: OpenedSocket
    let logger: Logger
    let timeout: Duration
    let current = Mutex(Current())

    init(reactor: SocketReactor, sub: OpenedSocket, control: OpenedSocket, logger: Logger, timeout: Duration) {
        self.reactor = reactor
        self.sub = sub
        self.control = control
        self.logger = logger
        self.timeout = timeout
    }

    /// The version acting uses now (0: none yet).
    var version: UInt64 { current.withLock { $0.version } }

    /// The weights acting uses now.
    var policy: Policy { current.withLock { Policy(version: $0.version, network: $0.network) } }

    /// Ask for at least `version` (from Welcome or a Heartbeat).
    func want(_ version: UInt64) {
        current.withLock { $0.wanted = max($0.wanted, version) }
    }

    /// A session began with run `runID`. Weights of another run (a learner restarted with a
    /// new run, whose versions start again at 1) are forgotten: acting waits for this run's.
    func begin(runID: String) {
        current.withLock {
            guard $0.runID != runID else { return }
            let generation = $0.generation + 1
            $0 = Current()
            $0.runID = runID
            $0.generation = generation
        }
    }

    func run() async {
        while !Task.isCancelled {
            switch await sub.inbox.receive(timeout: .milliseconds(50)) {
            case .closed: return
            case .timedOut: break
            case .message(let m):
                if case .weightsAvailable(let a)? = try? WireCodec.decode(m.frames).body,
                   a.runID == current.withLock({ $0.runID }) {
                    want(a.version)
                }
            }
            let (have, wanted) = current.withLock { ($0.version, $0.wanted) }
            if wanted > have { await fetch(have: have) }
        }
    }

    private func fetch(have: UInt64) async {
        let generation = current.withLock { $0.generation }
        var request = Tributary_V1_GetWeights()
        request.haveVersion = have
        while control.inbox.tryReceive() != nil {}  // late parts of an abandoned fetch
        reactor.send(control.id, WireCodec.encode(.getWeights(request)))
        var assembled: [UInt8] = []
        var model = Tributary_V1_ModelSpec()
        var expectedPart: UInt32 = 0
        let deadline = ContinuousClock.now + timeout
        while true {
            // Waits in short slices: a new session (`begin`) abandons a fetch to a learner
            // that is gone instead of waiting out the whole timeout.
            var received: Mailbox<InboundMessage>.Received = .timedOut
            while case .timedOut = received, ContinuousClock.now < deadline {
                if current.withLock({ $0.generation }) != generation { return }
                received = await control.inbox.receive(timeout: min(.milliseconds(100), deadline - .now))
            }
            guard case .message(let m) = received else {
                current.withLock { $0.failures += 1 }
                logger.warning("no Weights answer within \(timeout); will ask again")
                return
            }
            let decoded: DecodedMessage
            do {
                decoded = try WireCodec.decode(m.frames)
            } catch {
                current.withLock { $0.failures += 1 }
                logger.warning("unreadable answer to GetWeights: \(error)")
                return
            }
            switch decoded.body {
            case .weights(let w):
                if w.notModified { return }
                guard w.partIndex == expectedPart, w.offset == UInt64(assembled.count),
                    let frame = decoded.tensorFrames.first, w.data.frame == 0,
                    assembled.count + frame.count <= Int(w.totalSize)
                else {
                    current.withLock { $0.failures += 1 }
                    logger.warning("Weights part \(w.partIndex)/\(w.partCount) out of order; fetching again")
                    return
                }
                if w.partIndex == 0 { model = w.model }
                frame.withUnsafeBytes { assembled.append(contentsOf: $0) }
                expectedPart += 1
                if expectedPart < w.partCount { continue }
                guard assembled.count == Int(w.totalSize), WeightsDigest.sha256(assembled) == [UInt8](w.digest) else {
                    current.withLock { $0.failures += 1 }
                    logger.warning("weights version \(w.version) failed its digest check; fetching again")
                    return
                }
                // A model this worker cannot build (e.g. the stand-in trainer's) still gives a version.
                let network = try? ActorCritic(spec: model, bytes: assembled)
                if network == nil {
                    logger.debug("weights version \(w.version) describe a '\(model.family)' model, not one this worker can act with")
                }
                current.withLock {
                    guard $0.generation == generation, w.version > $0.version else { return }
                    $0.version = w.version
                    $0.bytes = assembled
                    $0.network = network
                    $0.fetches += 1
                }
                logger.debug("acting with weights version \(w.version) (\(assembled.count) bytes, \(w.partCount) part(s))")
                return
            case .reject(let r):
                current.withLock { $0.failures += 1 }
                logger.warning("GetWeights refused: \(r.code) \(r.reason)")
                return
            default:
                logger.warning("unexpected \(decoded.body.type) on the control socket")
            }
        }
    }
}
