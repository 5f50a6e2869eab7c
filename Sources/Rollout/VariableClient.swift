import Domain
import Logging
import NeuralNet
import Protocol

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

/// Keeps the worker's copy of the policy parameters current (Acme's VariableClient), without
/// sockets or clocks of its own: the worker's driver (`WorkerDriver`, on its socket thread)
/// tells it what was announced and what the control socket answered, and sends the
/// `GetWeights` it asks for. At most one fetch is in flight; announcements that arrive meanwhile
/// collapse into "fetch the newest".
///
/// It fetches only while the worker is `active` (it holds credits, or has no weights yet): a
/// worker waiting for the learner's admission acts with none of the versions published
/// meanwhile, and fetching each of them cost the machine more than the acting did (with 32
/// workers and ~400 versions a second, every worker fetched ~8 versions per chunk it sent).
/// When the worker becomes active again the newest version is fetched at once, and the driver
/// waits for it briefly before acting, so its chunks are no staler for it.
struct VariableClient {
    private(set) var version: UInt64 = 0
    private(set) var wanted: UInt64 = 0
    private(set) var bytes: [UInt8] = []
    /// The network built from `bytes` when the model is one this worker can act with.
    private(set) var network: ActorCritic?
    private(set) var fetches: UInt64 = 0
    private(set) var failures: UInt64 = 0
    /// Fetches finished so far, whatever their outcome (what `refresh`'s ticket counts).
    private(set) var finishedFetches: UInt64 = 0
    /// The run these weights belong to; a session with another run starts over.
    private(set) var runID = ""
    /// Whether newer versions are fetched as they are announced (`setActive`).
    private(set) var active = true
    /// `refresh` asked for a fetch whatever was announced.
    private var refreshWanted = false
    /// The fetch in flight: its parts so far and when it is given up.
    private var inFlight: (assembler: WeightsAssembler, deadline: ContinuousClock.Instant)?
    let timeout: Duration

    init(timeout: Duration) {
        self.timeout = timeout
    }

    /// The weights acting uses now.
    var policy: Policy { Policy(version: version, network: network) }

    /// Asks the learner for its newest version now, announced or not (announcements are only
    /// hints, and the learner sends at most one per `LearnerCore.announceInterval(sessions:)`).
    /// Returns the ticket: the refresh is done once `finishedFetches` exceeds it.
    mutating func refresh() -> UInt64 {
        refreshWanted = true
        return finishedFetches
    }

    /// Fetch newer versions (the worker holds credits or has no weights yet), or not (it waits
    /// for the learner's admission). Becoming active with a newer version announced fetches it.
    mutating func setActive(_ active: Bool) {
        if active, !self.active, wanted > version { refreshWanted = true }
        self.active = active
    }

    /// Ask for at least `version` (from Welcome, a Heartbeat or an announcement of this run).
    mutating func want(_ version: UInt64) {
        wanted = max(wanted, version)
    }

    /// A `WeightsAvailable` arrived.
    mutating func announced(runID: String, version: UInt64) {
        if runID == self.runID { want(version) }
    }

    /// A session began with run `runID`. Weights of another run (a learner restarted with a
    /// new run, whose versions start again at 1) are forgotten, with any fetch under way:
    /// acting waits for this run's.
    mutating func begin(runID: String) {
        guard runID != self.runID else { return }
        self = VariableClient(timeout: timeout)
        self.runID = runID
    }

    /// The `have_version` of a GetWeights to send now, if a fetch should begin; also gives up
    /// a fetch past its deadline (a failure: `lastFailure` says why).
    mutating func poll(now: ContinuousClock.Instant) -> UInt64? {
        if let f = inFlight {
            guard now >= f.deadline else { return nil }
            finish(failure: "no Weights answer within \(timeout); will ask again")
        }
        guard refreshWanted || (active && wanted > version) else { return nil }
        refreshWanted = false
        inFlight = (WeightsAssembler(), now + timeout)
        return version
    }

    /// When a fetch under way is given up (the driver's wait must end by then).
    var deadline: ContinuousClock.Instant? { inFlight?.deadline }

    /// Why the last fetch failed (cleared by the next that succeeds).
    private(set) var lastFailure: String?

    /// A message on the control socket. Returns true when it ended the fetch under way.
    @discardableResult
    mutating func answer(_ answer: DecodedMessage) -> Bool {
        guard var f = inFlight else { return false }  // a late part of a fetch given up
        switch answer.body {
        case .weights(let w):
            let step = f.assembler.add(w, data: answer.tensorFrames.first)
            inFlight = f
            switch step {
            case .needMore:
                return false
            case .notModified:
                finish(failure: nil)
            case .failed(let why):
                finish(failure: "\(why); fetching again")
            case .complete(let version, let model, let bytes):
                install(version: version, model: model, bytes: bytes)
                finish(failure: nil)
            }
        case .reject(let r):
            finish(failure: "GetWeights refused: \(r.code) \(r.reason)")
        default:
            return false
        }
        return true
    }

    private mutating func finish(failure: String?) {
        inFlight = nil
        finishedFetches += 1
        lastFailure = failure
        if failure != nil { failures += 1 }
    }

    private mutating func install(version: UInt64, model: ModelSpec, bytes: [UInt8]) {
        guard version > self.version else { return }
        // A model this worker cannot build (e.g. the stand-in trainer's) still gives a version.
        self.version = version
        self.bytes = bytes
        // The same model again (every version but the first): new parameters in place.
        if network?.replaceParameters(spec: model, bytes: bytes) != true {
            network = try? ActorCritic(spec: model, bytes: bytes)
        }
        fetches += 1
    }
}
