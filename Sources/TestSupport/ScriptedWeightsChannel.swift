import Locking
import Protocol
import Rollout

/// A learner's control socket in memory: answers each GetWeights with the next prepared list
/// of messages, and records what was asked (`VariableClient`'s injected channel in tests).
public final class ScriptedWeightsChannel: WeightsChannel {
    private struct State {
        var answers: [[DecodedMessage]]
        var queued: [DecodedMessage] = []
        var requests: [UInt64] = []
    }
    private let state: Mutex<State>

    public init(answers: [[DecodedMessage]]) { state = Mutex(State(answers: answers)) }

    /// The `have_version` of every request so far.
    public var requests: [UInt64] { state.withLock { $0.requests } }

    public func request(have: UInt64) {
        state.withLock { s in
            s.requests.append(have)
            s.queued = s.answers.isEmpty ? [] : s.answers.removeFirst()
        }
    }

    public func nextAnswer(timeout: Duration) async -> DecodedMessage? {
        let next: DecodedMessage? = state.withLock { $0.queued.isEmpty ? nil : $0.queued.removeFirst() }
        if next == nil { try? await Task.sleep(for: timeout) }
        return next
    }

    public func discardAnswers() { state.withLock { $0.queued = [] } }
    public func nextAnnouncement(timeout: Duration) async -> Announcement { .closed }
}
