import Domain
import Environments
import Foundation
import Logging
import Protocol
import Transport

/// A hostile peer: speaks the protocol over a real DEALER socket, with messages that are
/// well-formed on the wire but lie about what they carry. Each session is its own connection.
final class AttackPeer: @unchecked Sendable {
    let reactor: SocketReactor
    let socket: OpenedSocket
    var welcome: Tributary_V1_Welcome?
    var incarnation: UInt64 = UInt64.random(in: 1..<(1 << 53))
    var sequence: UInt64 = 0
    var numEnvs = 2
    /// Credits held: the Welcome's, plus Credits and the credits Rejects return. A chunk waits
    /// for one, as a well-behaved client's would (the learner's budget is shared: a peer that
    /// joins after the honest worker may be welcomed with none).
    var credits: UInt32 = 0

    init(endpoint: String, security: SocketSpec.Security = .plaintext, onEvent: (@Sendable (SocketID, TransportEvent) -> Void)? = nil) async throws {
        var logger = Logger(label: "attacker")
        logger.logLevel = .critical
        reactor = try SocketReactor(name: "attacker", logger: logger)
        var spec = SocketSpec(kind: .dealer)
        spec.connect = [endpoint]
        spec.lingerMilliseconds = 0
        spec.security = security
        spec.onEvent = onEvent
        socket = try await reactor.open(spec)
    }

    func close() async { await reactor.shutdown() }

    /// Sends one message and returns the first answer that is not a heartbeat or a Credit (nil:
    /// none). Credits (for earlier chunks) are counted, and a Reject's returned credits too.
    /// The wait is long because it ends at the answer: under the whole suite on 2 cores a
    /// debug learner took more than 5 s to refuse a 30 MiB Hello, and a late answer would be
    /// read as the answer to the next message.
    func exchange(_ frames: [OwnedFrame], timeout: Duration = .seconds(30)) async -> WireBody? {
        reactor.send(socket.id, frames)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard case .message(let m) = await socket.inbox.receive(timeout: deadline - .now) else { return nil }
            guard let body = try? WireCodec.decode(m.frames).body else { continue }
            switch body {
            case .heartbeat: continue
            case .credit(let c): credits += c.credits; continue
            case .reject(let r): credits += r.creditsReturned
            case .welcome(let w): credits = w.initialCredits
            default: break
            }
            return body
        }
        return nil
    }

    /// Waits (up to `timeout`) until the learner has granted a credit, and spends it.
    func takeCredit(timeout: Duration = .seconds(30)) async {
        let deadline = ContinuousClock.now + timeout
        while credits == 0, ContinuousClock.now < deadline {
            guard case .message(let m) = await socket.inbox.receive(timeout: deadline - .now) else { return }
            if case .credit(let c)? = try? WireCodec.decode(m.frames).body { credits += c.credits }
        }
        if credits > 0 { credits -= 1 }
    }

    /// The Reject code of the answer, nil when it was not a Reject.
    func rejectCode(_ frames: [OwnedFrame]) async -> Tributary_V1_Reject.Code? {
        await takeCredit()
        if case .reject(let r)? = await exchange(frames) { return r.code }
        return nil
    }

    /// Says Hello for `numEnvs` copies of `env` (changed by `change`); the answer.
    func hello(_ env: EnvSpec, numEnvs: Int = 2, workerID: String = "mallory", timeout: Duration = .seconds(30),
               change: (inout Tributary_V1_Hello) -> Void = { _ in }) async -> WireBody?
    {
        self.numEnvs = numEnvs
        var h = Tributary_V1_Hello()
        h.protocolVersions = [1]
        h.workerID = workerID
        h.incarnation = incarnation
        h.host = "evil.example"
        h.env = env.wire(numEnvs: numEnvs)
        change(&h)
        let answer = await exchange(WireCodec.encode(.hello(h)), timeout: timeout)
        if case .welcome(let w)? = answer { welcome = w }
        return answer
    }

    /// A chunk that is valid for a discrete-action learner of observation size `d` at unroll
    /// length `t`, acted by the version the Welcome offered, then changed by `change`.
    func chunk(envID: String, d: Int, t: Int, change: (inout Tributary_V1_TrajectoryChunk, inout [OwnedFrame]) -> Void = { _, _ in })
        -> [OwnedFrame]
    {
        let b = numEnvs
        var frames = TensorFrames()
        var c = Tributary_V1_TrajectoryChunk()
        c.runID = welcome?.runID ?? ""
        c.workerID = "mallory"
        c.incarnation = incarnation
        c.envID = envID
        c.sequence = sequence
        sequence += 1
        c.length = UInt32(t)
        c.numEnvs = UInt32(b)
        let version = max(1, welcome?.currentWeights.version ?? 1)
        c.policyVersions = frames.add([UInt64](repeating: version, count: t), shape: [t])
        c.observations = frames.add([Float](repeating: 0.01, count: t * b * d), shape: [t, b, d])
        c.actions = frames.add((0..<(t * b)).map { Int32($0 % 2) }, shape: [t, b])
        c.behaviourLogp = frames.add([Float](repeating: -0.6931, count: t * b), shape: [t, b])
        c.rewards = frames.add([Float](repeating: 1, count: t * b), shape: [t, b])
        c.terminated = frames.add([UInt8](repeating: 0, count: t * b), shape: [t, b])
        c.truncated = frames.add([UInt8](repeating: 0, count: t * b), shape: [t, b])
        c.bootstrapObservation = frames.add([Float](repeating: 0.01, count: b * d), shape: [b, d])
        var tensors = frames.frames
        change(&c, &tensors)
        return WireCodec.encode(.trajectoryChunk(c), tensors: tensors)
    }
}

/// Resident memory of a process, from /proc (bytes); 0 when unreadable.
func residentBytes(pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
    return kb * 1024
}

extension Array where Element == UInt8 {
    /// Overwrites the float32 at element `i`.
    mutating func setFloat(_ i: Int, _ value: Float) {
        Swift.withUnsafeBytes(of: value.bitPattern.littleEndian) { replaceSubrange((i * 4)..<(i * 4 + 4), with: $0) }
    }
}
