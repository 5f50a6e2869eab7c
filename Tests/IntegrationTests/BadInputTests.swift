import Foundation
import Logging
import Protocol
import Rollout
import Testing
import Transport

extension Integration {
    /// Garbage sent to a live learner process over a real socket: every message is refused with
    /// the right code, counted, and the learner keeps serving well-formed work.
    @Suite(.serialized) struct BadInputTests {
        @Test func aLiveLearnerRefusesCountsAndSurvivesBadInput() async throws {
            let learner = try LearnerProcess.start(["--observation-size", "3", "--max-message-bytes", "65536", "--weights-part-bytes", "16384", "--unroll-length", "4",
                                                    "--liveness-ms", "60000"])  // this test never sends heartbeats
            var logger = Logger(label: "bad-input")
            logger.logLevel = .critical
            let reactor = try SocketReactor(name: "bad", logger: logger)
            var spec = SocketSpec(kind: .dealer)
            spec.connect = [learner.data]
            spec.lingerMilliseconds = 0
            let dealer = try await reactor.open(spec)

            func exchange(_ frames: [OwnedFrame]) async throws -> WireBody {
                reactor.send(dealer.id, frames)
                while true {
                    guard case .message(let m) = await dealer.inbox.receive(timeout: .seconds(5)) else {
                        throw TestFailure("no answer from the learner")
                    }
                    let body = try WireCodec.decode(m.frames).body
                    if case .heartbeat = body { continue }
                    return body
                }
            }
            func rejectCode(_ frames: [OwnedFrame]) async throws -> Tributary_V1_Reject.Code? {
                if case .reject(let r) = try await exchange(frames) { return r.code }
                return nil
            }

            var source = SyntheticSource(spec: SyntheticSource.envSpec(numEnvs: 2, observationSize: 3), unrollLength: 4, episodeLength: 50, seed: 3)
            let orphan = source.next(runID: "x", workerID: "bad", incarnation: 5, sequence: 0, policyVersion: 0)
            #expect(try await rejectCode(orphan) == .unknownWorker)
            #expect(try await rejectCode([[1, 2, 3], [4]]) == .malformed)
            #expect(try await rejectCode([[0x54, 0x52, 1, 200], []]) == .unknownType)
            #expect(try await rejectCode([[0x54, 0x52, 1, 1], [0xff, 0xff, 0xff]]) == .malformed)
            #expect(try await rejectCode(WireCodec.encode(.getWeights(.init()))) == .unknownType)

            var hello = Tributary_V1_Hello()
            hello.protocolVersions = [1]
            hello.workerID = "bad"
            hello.incarnation = 5
            hello.env = source.spec
            guard case .welcome(let welcome) = try await exchange(WireCodec.encode(.hello(hello))) else {
                Issue.record("no Welcome")
                return
            }
            // Each frame under libzmq's per-frame limit, the message over the learner's total.
            let half = OwnedFrame(repeating: 0, count: 40_000)
            #expect(try await rejectCode(WireCodec.encode(.heartbeat(.init()), tensors: [half, half])) == .oversize)

            var broken = source.next(runID: welcome.runID, workerID: "bad", incarnation: 5, sequence: 0, policyVersion: 1)
            broken[3].removeLast(4)
            guard case .reject(let r) = try await exchange(broken) else { Issue.record("broken chunk accepted"); return }
            #expect(r.code == .shapeMismatch)
            #expect(r.creditsReturned == 1)

            // After all that, a good chunk is accepted and earns its credit.
            let good = source.next(runID: welcome.runID, workerID: "bad", incarnation: 5, sequence: 1, policyVersion: 1)
            guard case .credit(let credit) = try await exchange(good) else { Issue.record("good chunk not credited"); return }
            #expect(credit.ackedChunks == 1)

            await reactor.shutdown()
            let status = try learner.stop()
            #expect(status.rejected == ["unknown_worker": 1, "malformed": 2, "unknown_type": 2, "oversize": 1, "shape_mismatch": 1])
            #expect(status.chunksAccepted == 1)
            #expect(status.chunksConsumed == 1)
        }
    }
}
