import Domain
import Logging
import NeuralNet
import Protocol
import Locking
import Transport

/// Where weights come from: `GetWeights` out, `Weights` parts back (the control socket), and
/// `WeightsAvailable` announcements (the weights SUB socket). Injected, so the client's logic is
/// tested without sockets.
public protocol WeightsChannel: Sendable {
    /// Sends `GetWeights{have_version}`.
    func request(have: UInt64)
    /// The next answer to a request; nil when none arrived within `timeout` (or the channel closed).
    func nextAnswer(timeout: Duration) async -> DecodedMessage?
    /// Drops answers still queued (late parts of an abandoned fetch).
    func discardAnswers()
    /// The next announcement; `.timedOut` when none within `timeout`, `.closed` at shutdown.
    func nextAnnouncement(timeout: Duration) async -> Announcement
    /// Why requests go unanswered, when the channel can tell (a network probe); nil otherwise.
    func diagnose() async -> String?
    /// Ends a `nextAnnouncement` wait early (it returns `.timedOut`).
    func wakeAnnouncements()
}

extension WeightsChannel {
    public func diagnose() async -> String? { nil }
    public func wakeAnnouncements() {}
}

public enum Announcement: Sendable, Equatable {
    case version(runID: String, version: UInt64)
    case timedOut
    case closed
}

/// The worker's sockets as a `WeightsChannel`.
struct SocketWeightsChannel: WeightsChannel {
    let reactor: SocketReactor
    let sub: OpenedSocket
    let control: OpenedSocket
    /// Where GetWeights goes (what `diagnose` probes).
    let controlEndpoint: String

    func diagnose() async -> String? {
        let endpoint = controlEndpoint
        return "\(endpoint): " + (await Task.detached { ConnectionProbe.probe(endpoint) }.value).description
    }

    func request(have: UInt64) {
        var r = Tributary_V1_GetWeights()
        r.haveVersion = have
        reactor.send(control.id, WireCodec.encode(.getWeights(r)))
    }

    func nextAnswer(timeout: Duration) async -> DecodedMessage? {
        guard case .message(let m) = await control.inbox.receive(timeout: timeout) else { return nil }
        return try? WireCodec.decode(m.frames)
    }

    func discardAnswers() {
        while control.inbox.tryReceive() != nil {}
    }

    func wakeAnnouncements() { sub.inbox.wake() }

    func nextAnnouncement(timeout: Duration) async -> Announcement {
        switch await sub.inbox.receive(timeout: timeout) {
        case .closed: return .closed
        case .timedOut: return .timedOut
        case .message(let m):
            guard case .weightsAvailable(let a)? = try? WireCodec.decode(m.frames).body else { return .timedOut }
            return .version(runID: a.runID, version: a.version)
        }
    }
}

/// Puts a weights snapshot together from its `Weights` parts (docs/protocol.md §8): in order,
/// each at the offset where the last ended, within the announced size, and the whole matching
/// its digest. Pure: no sockets, no clock.
struct WeightsAssembler: Sendable {
    enum Step: Sendable, Equatable {
        case needMore
        case notModified
        case complete(version: UInt64, model: ModelSpec, bytes: [UInt8])
        case failed(String)
    }

    private var bytes: [UInt8] = []
    private var model = ModelSpec.none
    private var expectedPart: UInt32 = 0

    mutating func add(_ w: Tributary_V1_Weights, data: (any MessageFrame)?) -> Step {
        if w.notModified { return .notModified }
        guard w.partIndex == expectedPart, w.partCount > 0, w.offset == UInt64(bytes.count), let data, w.data.frame == 0,
              w.totalSize <= UInt64(Int.max), bytes.count + data.count <= Int(w.totalSize)
        else { return .failed("Weights part \(w.partIndex)/\(w.partCount) out of order") }
        if w.partIndex == 0 {
            model = ModelSpec(wire: w.model)
            bytes.reserveCapacity(Int(min(w.totalSize, 1 << 30)))
        }
        data.withUnsafeBytes { bytes.append(contentsOf: $0) }
        expectedPart += 1
        if expectedPart < w.partCount { return .needMore }
        guard bytes.count == Int(w.totalSize), WeightsDigest.sha256(bytes) == [UInt8](w.digest) else {
            return .failed("weights version \(w.version) failed its digest check")
        }
        return .complete(version: w.version, model: model, bytes: bytes)
    }
}

/// Keeps the worker's copy of the policy parameters current (Acme's VariableClient).
///
/// Listens to announcements and fetches a newer version with `GetWeights`, at most one fetch in
/// flight; announcements that arrive meanwhile collapse into "fetch the newest".
///
/// It fetches only while the worker is `active` (it holds credits, or has no weights yet): a
/// worker waiting for the learner's admission acts with none of the versions published
/// meanwhile, and fetching each of them cost the machine more than the acting did (with 32
/// workers and ~400 versions a second, every worker fetched ~8 versions per chunk it sent).
/// When the worker becomes active again the newest version is fetched at once, and the session
/// waits for it briefly before acting (`SessionLoop`), so its chunks are no staler for it.
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
        /// Bumped by `begin`: a fetch begun before it must not install its result.
        var generation: UInt64 = 0
        /// Whether newer versions are fetched as they are announced (`setActive`).
        var active = true
        /// `refresh` asked for a fetch whatever was announced; fetches finished (any outcome).
        var refreshWanted = false
        var finished: UInt64 = 0
    }

    let channel: any WeightsChannel
    let logger: Logger
    let timeout: Duration
    let current = Mutex(Current())
    /// Called after each fetch ends, whatever it brought (the session's wake-up).
    let onInstall: @Sendable () -> Void

    init(channel: any WeightsChannel, logger: Logger, timeout: Duration, onInstall: @escaping @Sendable () -> Void = {}) {
        self.channel = channel
        self.logger = logger
        self.timeout = timeout
        self.onInstall = onInstall
    }

    /// Fetches finished so far, whatever their outcome (what `refresh`'s ticket counts).
    var finishedFetches: UInt64 { current.withLock { $0.finished } }

    /// Asks the learner for its newest version now, announced or not (announcements are only
    /// hints, and the learner sends at most one per `LearnerCore.announceInterval(sessions:)`).
    /// Returns the ticket: the refresh is done once `finishedFetches` exceeds it.
    func refresh() -> UInt64 {
        let ticket: UInt64 = current.withLock {
            $0.refreshWanted = true
            return $0.finished
        }
        channel.wakeAnnouncements()
        return ticket
    }

    /// Fetch newer versions (the worker holds credits or has no weights yet), or not (it waits
    /// for the learner's admission). Becoming active starts a fetch of the newest at once.
    func setActive(_ active: Bool) {
        // Becoming active with a newer version announced latches one fetch: the worker may
        // spend its credits and turn inactive again before this client's loop even wakes.
        let wake: Bool = current.withLock { c in
            defer { c.active = active }
            guard active, !c.active, c.wanted > c.version || c.refreshWanted else { return false }
            c.refreshWanted = true
            return true
        }
        if wake { channel.wakeAnnouncements() }
    }

    /// The version acting uses now (0: none yet).
    var version: UInt64 { current.withLock { $0.version } }

    /// The weights acting uses now.
    var policy: Policy { current.withLock { Policy(version: $0.version, network: $0.network) } }

    /// Ask for at least `version` (from Welcome or a Heartbeat).
    func want(_ version: UInt64) {
        let wake: Bool = current.withLock { c in
            defer { c.wanted = max(c.wanted, version) }
            return version > c.wanted && version > c.version && c.active
        }
        if wake { channel.wakeAnnouncements() }
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
            // A long wait: an announcement, `refresh`, `setActive` or `want` ends it early.
            switch await channel.nextAnnouncement(timeout: .seconds(1)) {
            case .closed: return
            case .timedOut: break
            case .version(let runID, let version):
                current.withLock { if $0.runID == runID { $0.wanted = max($0.wanted, version) } }
            }
            let (have, go): (UInt64, Bool) = current.withLock { c in
                let go = c.refreshWanted || (c.active && c.wanted > c.version)
                if go { c.refreshWanted = false }
                return (c.version, go)
            }
            if go {
                await fetch(have: have)
                current.withLock { $0.finished += 1 }
                onInstall()
            }
        }
    }

    /// One fetch: request, assemble the parts, install a newer version for the same run.
    func fetch(have: UInt64) async {
        let generation = current.withLock { $0.generation }
        channel.discardAnswers()
        channel.request(have: have)
        var assembler = WeightsAssembler()
        let deadline = ContinuousClock.now + timeout
        while true {
            // Waits in short slices: a new session (`begin`) abandons a fetch to a learner that
            // is gone instead of waiting out the whole timeout.
            var answer: DecodedMessage?
            while answer == nil, ContinuousClock.now < deadline {
                if current.withLock({ $0.generation }) != generation { return }
                answer = await channel.nextAnswer(timeout: min(.milliseconds(100), deadline - .now))
            }
            guard let answer else {
                // The first time, and every tenth, say what the network shows.
                let failures = current.withLock { $0.failures }
                let probe = failures % 10 == 0 ? await channel.diagnose() : nil
                fail("no Weights answer within \(timeout)\(probe.map { " (\($0))" } ?? ""); will ask again")
                return
            }
            switch answer.body {
            case .weights(let w):
                switch assembler.add(w, data: answer.tensorFrames.first) {
                case .needMore:
                    continue
                case .notModified:
                    return
                case .failed(let why):
                    fail("\(why); fetching again")
                    return
                case .complete(let version, let model, let bytes):
                    install(version: version, model: model, bytes: bytes, generation: generation)
                    return
                }
            case .reject(let r):
                fail("GetWeights refused: \(r.code) \(r.reason)")
                return
            default:
                logger.warning("unexpected \(answer.body.type) on the control socket")
            }
        }
    }

    private func install(version: UInt64, model: ModelSpec, bytes: [UInt8], generation: UInt64) {
        // A model this worker cannot build (e.g. the stand-in trainer's) still gives a version.
        let network = try? ActorCritic(spec: model, bytes: bytes)
        if network == nil {
            logger.debug("weights version \(version) describe a '\(model.family)' model, not one this worker can act with")
        }
        let installed: Bool = current.withLock {
            guard $0.generation == generation, version > $0.version else { return false }
            $0.version = version
            $0.bytes = bytes
            $0.network = network
            $0.fetches += 1
            return true
        }
        guard installed else { return }
        logger.debug("acting with weights version \(version) (\(bytes.count) bytes)")
    }

    private func fail(_ why: String) {
        current.withLock { $0.failures += 1 }
        logger.warning("\(why)")
    }
}
