import Domain
import Environments
import Events
import Foundation
import Protocol
import Testing
import Transport

extension Integration {
    /// Every attack of the trust-boundary issue, sent as a stranger would to a live CartPole learner
    /// over real sockets, while an honest worker trains: each is refused with its code, counted,
    /// and survived; training goes on; memory stays within its documented bound.
    @Suite(.serialized) struct AttackTests {
        static let cartPole = EnvironmentRegistry.spec("CartPole-v1")!

        /// Counts of `rejected` in a status reply, by reason.
        @Test func wellFormedAttacksAreRefusedCountedAndSurvived() async throws {
            let t = 8
            let learner = try LearnerProcess.start([
                // A learning rate too small to learn with keeps the honest return near a random
                // policy's (~22), far below the target: only mallory's fake 500s could reach it,
                // and the learner must not stop by solving CartPole in the middle of the test.
                "--env", "CartPole-v1", "--runs", "", "--unroll-length", String(t), "--target-return", "475", "--max-workers", "12",
                "--liveness-ms", "60000", "--log-level", "info", "--learning-rate", "1e-7",
            ])
            let honest = try learner.worker("honest", ["--env", "CartPole-v1", "--num-envs", "16"])
            _ = try honest.event(WorkerActing.self)
            let peer = try await AttackPeer(endpoint: learner.data)
            let d = Self.cartPole.observationSize

            // A Hello that declares another observation width, or the learner's own env id with
            // other action counts, is not this learner's environment.
            var wide = Self.cartPole
            wide.observationShape = [5]
            #expect(await peer.hello(wide).rejectCode == .envMismatch)
            var more = Self.cartPole
            more.actionSpace = .discrete(8)
            #expect(await peer.hello(more).rejectCode == .envMismatch)
            // A chunk size beyond --max-chunk-steps (16,384 columns × T).
            #expect(await peer.hello(Self.cartPole, numEnvs: 16_384).rejectCode == .oversize)
            // Three Hellos with 30 MiB worker ids: refused by the size of the Hello before it is
            // decoded (decoding it took the socket thread ~10 s in a debug build); a 1 KiB id by name.
            let huge = String(repeating: "w", count: 30 << 20)
            for _ in 0..<3 { #expect(await peer.hello(Self.cartPole, workerID: huge).rejectCode == .oversize) }
            #expect(await peer.hello(Self.cartPole, workerID: String(repeating: "w", count: 1024)).rejectCode == .fieldTooLong)

            guard case .welcome? = await peer.hello(Self.cartPole) else { Issue.record("the honest shape was not welcomed"); return }
            // Actions outside 0..<2, both ways.
            for bad: Int32 in [7, -1] {
                let frames = peer.chunk(envID: "CartPole-v1", d: d, t: t) { c, tensors in
                    tensors[Int(c.actions.frame)] = [Int32](repeating: bad, count: t * 2).withUnsafeBytes { Array($0) }
                }
                #expect(await peer.rejectCode(frames) == .actionOutOfRange)
            }
            // Observations of another width, consistent with themselves.
            let wider = peer.chunk(envID: "CartPole-v1", d: d + 1, t: t)
            #expect(await peer.rejectCode(wider) == .shapeMismatch)
            // numpy's default dtypes: uint8 and int64 actions, float64 observations.
            let dtypes: [(inout Tributary_V1_TrajectoryChunk, inout [OwnedFrame]) -> Void] = [
                { c, f in c.actions.dtype = .uint8; f[Int(c.actions.frame)] = [UInt8](repeating: 0, count: t * 2) },
                { c, f in c.actions.dtype = .int64; f[Int(c.actions.frame)] = [UInt8](repeating: 0, count: t * 2 * 8) },
                { c, f in c.observations.dtype = .float64; f[Int(c.observations.frame)] = [UInt8](repeating: 0, count: t * 2 * d * 8) },
            ]
            for change in dtypes { #expect(await peer.rejectCode(peer.chunk(envID: "CartPole-v1", d: d, t: t, change: change)) == .shapeMismatch) }
            // Eight chunks with NaN rewards.
            for _ in 0..<8 {
                let frames = peer.chunk(envID: "CartPole-v1", d: d, t: t) { c, f in f[Int(c.rewards.frame)].setFloat(3, .nan) }
                #expect(await peer.rejectCode(frames) == .nonFinite)
            }
            // One chunk carrying 100 fake episodes of return 500.
            let fake = peer.chunk(envID: "CartPole-v1", d: d, t: t) { c, f in
                var e = Tributary_V1_EpisodeStats()
                e.episodeReturn = 500
                e.length = 500
                e.terminated = true
                c.episodes = Array(repeating: e, count: 100)
            }
            #expect(await peer.rejectCode(fake) == .badEpisode)
            // A policy version the learner never served.
            let future = peer.chunk(envID: "CartPole-v1", d: d, t: t) { c, f in
                f[Int(c.policyVersions.frame)] = [UInt64](repeating: 1 << 40, count: t).withUnsafeBytes { Array($0) }
            }
            #expect(await peer.rejectCode(future) == .badVersion)

            // A flood of sessions beyond --max-workers (12): the honest worker and mallory hold two.
            var flood: [AttackPeer] = []
            var full = 0
            for i in 0..<14 {
                let p = try await AttackPeer(endpoint: learner.data)
                if await p.hello(Self.cartPole, workerID: "flood-\(i)").rejectCode == .learnerFull { full += 1 }
                flood.append(p)
            }
            #expect(full == 4)
            for p in flood { await p.close() }

            // A frame above --max-message-bytes: libzmq drops the connection; the learner counts it.
            let before = try TelemetryProcessTests.status(learner)
            let oversize = try await AttackPeer(endpoint: learner.data)
            oversize.reactor.send(oversize.socket.id, [[0x54, 0x52, 1, 6], [], OwnedFrame(repeating: 0, count: (64 << 20) + 1)])
            try await Task.sleep(for: .milliseconds(1500))
            await oversize.close()
            await peer.close()

            // The learner is alive, still trains, and counted every refusal by name.
            let mid = try TelemetryProcessTests.status(learner)
            try await Task.sleep(for: .milliseconds(1500))
            let after = try TelemetryProcessTests.status(learner)
            #expect(after.updates > mid.updates, "training stopped")
            let counts = after.rejected
            #expect(counts["env_mismatch"] == 2)
            #expect(counts["oversize"] == 4)
            #expect(counts["field_too_long"] == 1)
            #expect(counts["action_out_of_range"] == 2)
            #expect(counts["shape_mismatch"] == 4)
            #expect(counts["non_finite"] == 8)
            #expect(counts["bad_episode"] == 1)
            #expect(counts["bad_version"] == 1)
            #expect(counts["learner_full"] == 4)
            #expect(after.transport.connectionsClosed > before.transport.connectionsClosed, "the oversize frame left no trace")
            #expect(learner.process.stderr.contains("sent a frame above"), "no log line for the dropped connection")
            // Nothing mallory sent reached the mean return: the run is not "solved" by it.
            #expect(after.meanReturn100 < 475)
            // Memory: base (~50 MB) + what the honest worker's credits and the buffer hold, far
            // below the documented bound of 150 MB + --memory-budget-bytes.
            let rss = residentBytes(pid: learner.process.pid)
            #expect(rss > 0 && rss < 400 << 20, "learner RSS \(rss >> 20) MiB")
            honest.signal(SIGTERM)
            #expect(honest.waitExit(timeout: 10) == 0)
            let status = try learner.stop()
            #expect(status.chunksAccepted > 0)
        }

        /// Chunks that pass every check but make the loss overflow (rewards of 3e38, finite) reach
        /// the trainer: each update is skipped and counted, no weights are published, and after
        /// three in a row /healthz says degraded.
        @Test func updatesThatWouldPoisonTheWeightsAreSkipped() async throws {
            let t = 8
            let learner = try LearnerProcess.start([
                // Rewards unscaled: CartPole's preset scales them by 0.1, which keeps 3e38 finite.
                "--env", "CartPole-v1", "--runs", "", "--unroll-length", String(t), "--batch-columns", "2", "--reward-scale", "1",
                "--degraded-after-skips", "3", "--liveness-ms", "60000",
            ])
            let peer = try await AttackPeer(endpoint: learner.data)
            guard case .welcome(let w)? = await peer.hello(Self.cartPole) else { Issue.record("no Welcome"); return }
            #expect(w.initialCredits >= 4)
            for _ in 0..<4 {
                let frames = peer.chunk(envID: "CartPole-v1", d: 4, t: t) { c, f in
                    f[Int(c.rewards.frame)] = [Float](repeating: 3e38, count: t * 2).withUnsafeBytes { Array($0) }
                }
                peer.reactor.send(peer.socket.id, frames)
            }
            var status = Tributary_V1_StatusReply()
            for _ in 0..<50 {
                try await Task.sleep(for: .milliseconds(100))
                status = try TelemetryProcessTests.status(learner)
                if status.health == "degraded" { break }
            }
            #expect(status.updatesSkipped.values.reduce(0, +) == 4, "\(status.updatesSkipped)")
            #expect(status.policyVersion == 1, "a poisoned version was published")
            #expect(status.health == "degraded")
            let (code, body) = try TelemetryProcessTests.get(learner.metrics + "/healthz")
            #expect(code == 503)
            #expect(body.contains("degraded"))
            await peer.close()
            _ = try learner.stop()
        }

        /// Under CURVE a stranger's key is refused at the handshake: nothing it sends is received,
        /// it cannot read the weights or the status, and a refused worker exits with a reason. An
        /// enrolled worker trains and is shown by its key's name; removing its key and sending
        /// SIGHUP revokes it.
        @Test func strangersAreRefusedUnderCurveAndRevocationTakesEffect() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-keys-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let server = try CurveKeyPair.generate(name: "learner").write(to: dir.appendingPathComponent("server"))
            let allowed = dir.appendingPathComponent("allowed")
            let worker = try CurveKeyPair.generate(name: "w-ok").write(to: allowed)
            let ops = try CurveKeyPair.generate(name: "ops", role: "operator").write(to: allowed)
            let stranger = try CurveKeyPair.generate(name: "stranger").write(to: dir.appendingPathComponent("other"))
            let learner = try LearnerProcess.start([
                "--env", "CartPole-v1", "--runs", "", "--curve-secret-key", server.secretFile.path, "--allow-keys", allowed.path,
            ])
            let keyArgs = ["--curve-server-key", server.publicFile.path, "--curve-secret-key"]
            let good = try learner.worker("enrolled", ["--env", "CartPole-v1", "--num-envs", "8"] + keyArgs + [worker.secretFile.path])
            _ = try good.event(WorkerActing.self)
            // A stranger's key, an operator's key on the data socket, and no key at all: each worker
            // exits 4 with the reason on its own side.
            for (name, args) in [("stranger", keyArgs + [stranger.secretFile.path]), ("operator", keyArgs + [ops.secretFile.path]), ("plaintext", [])] {
                let refused = try learner.worker(name, ["--env", "CartPole-v1"] + args)
                #expect(refused.waitExit(timeout: 30) == 4, "\(name): \(refused.stderr.suffix(300))")
                // Enrolment refused, a key the learner cannot decrypt, or a plaintext client told the learner expects CURVE.
                #expect(refused.stderr.contains("refused this key") || refused.stderr.contains("CURVE handshake")
                        || refused.stderr.contains("it expects CURVE"), "\(name): \(refused.stderr.suffix(300))")
            }
            // A stranger's 200 made-up chunks never arrive, and it reads no weights.
            let keys = try CurveKeyPair.load(stranger.secretFile.path, requireSecret: true)
            let security = SocketSpec.Security.curveClient(serverKey: try CurveKeyPair.load(server.publicFile.path).publicKey,
                                                          publicKey: keys.publicKey, secretKey: keys.secretKey!)
            let peer = try await AttackPeer(endpoint: learner.data, security: security)
            #expect(await peer.hello(Self.cartPole, workerID: "stranger", timeout: .seconds(3)) == nil)
            for _ in 0..<200 {
                var c = peer.chunk(envID: "CartPole-v1", d: 4, t: 32)
                c[3] = c[3]  // well-formed, made up
                peer.reactor.send(peer.socket.id, c)
            }
            let weights = try await AttackPeer(endpoint: learner.control, security: security)
            #expect(await weights.exchange(WireCodec.encode(.getWeights(.init())), timeout: .seconds(2)) == nil)
            await peer.close()
            await weights.close()
            // The operator's key reads the status; a stranger's does not.
            let opsStatus = try ManagedProcess("tributary", ["status", "--json", "--learner", learner.control, "--curve-server-key", server.publicFile.path,
                                                             "--curve-secret-key", ops.secretFile.path])
            #expect(opsStatus.waitExit(timeout: 10) == 0, "\(opsStatus.stderr)")
            let status = try opsStatus.statusReply()
            #expect(status.workers.allSatisfy { $0.keyName == "w-ok" }, "\(status.workers.map(\.keyName))")
            #expect(status.chunksReceived == status.workers.map(\.chunksReceived).reduce(0, +))
            #expect(status.transport.handshakesFailed["auth", default: 0] >= 2)
            #expect(status.security == "curve")
            let strangerStatus = try ManagedProcess("tributary", ["status", "--learner", learner.control, "--curve-server-key", server.publicFile.path,
                                                                  "--curve-secret-key", stranger.secretFile.path, "--timeout", "2"])
            #expect(strangerStatus.waitExit(timeout: 10) == 2)
            #expect(strangerStatus.stderr.contains("refused this key"), "\(strangerStatus.stderr)")
            // Revocation: the worker's key leaves the allow list; SIGHUP; the worker is removed and exits 4.
            try FileManager.default.removeItem(at: worker.publicFile)
            learner.process.signal(SIGHUP)
            #expect(good.waitExit(timeout: 30) == 4, "\(good.stderr.suffix(300))")
            let after = try learner.stop()
            let gone = after.workers.first { $0.keyName == "w-ok" }
            #expect(gone?.expiredReason.hasPrefix("revoked") == true, "\(String(describing: gone))")
        }
    }
}

extension Optional where Wrapped == WireBody {
    /// The Reject code of an answer, nil when it was not a Reject.
    var rejectCode: Tributary_V1_Reject.Code? {
        if case .reject(let r)? = self { return r.code }
        return nil
    }
}
