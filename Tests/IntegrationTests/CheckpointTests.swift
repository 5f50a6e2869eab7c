import Events
import Foundation
import Protocol
import Testing

extension Integration {
    /// Durable runs with real processes and real files: a learner killed with SIGKILL mid-run is
    /// resumed from its run directory and carries on the same run.
    @Suite(.serialized) struct CheckpointTests {
        /// Train CartPole until the policy is good (mean return ≥ 450), kill -9 the learner, resume
        /// it on the same endpoints: same run id, versions above every old one, counters carried
        /// over, the running workers back for the same run, and the policy back at ≥ 400 within 5 s.
        @Test func killNineThenResumeContinuesTheRun() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trib-ckpt-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let endpoints = ("ipc://\(dir.path)/data", "ipc://\(dir.path)/weights", "ipc://\(dir.path)/control")
            let flags = ["--runs", dir.appendingPathComponent("runs").path, "--checkpoint-seconds", "0.5"]
            let first = try LearnerProcess.start(["--env", "CartPole-v1", "--run-id", "r-kill", "--learning-rate", "1e-3"] + flags, endpoints: endpoints)
            let workers = try (0..<2).map { try first.worker("ck-\($0)", ["--env", "CartPole-v1", "--num-envs", "8", "--seed", String($0 + 1)]) }
            // Kill only a good policy: the mean return was ≥ 450 before and still is after a
            // checkpoint (one every 0.5 s) had time to be written. (Past the target CartPole
            // can swing down for a while; then this waits for it to come back.)
            var before = Tributary_V1_StatusReply()
            var last = Tributary_V1_StatusReply()
            let deadline = Date().addingTimeInterval(240)
            while Date() < deadline {
                try await Task.sleep(for: .milliseconds(500))
                before = try TelemetryProcessTests.status(first)
                guard before.episodes >= 100, before.meanReturn100 >= 450 else { continue }
                try await Task.sleep(for: .milliseconds(1200))
                last = try TelemetryProcessTests.status(first)
                if last.meanReturn100 >= 450 { break }
            }
            try #require(last.meanReturn100 >= 450, "CartPole not learned in time: \(last.meanReturn100)")
            first.process.signal(SIGKILL)
            _ = first.process.waitExit(timeout: 10)

            let resumedAt = Date()
            let second = try LearnerProcess.start(["--resume", dir.appendingPathComponent("runs/r-kill").path] + flags, endpoints: endpoints)
            var after = try TelemetryProcessTests.status(second)
            #expect(after.runID == "r-kill")
            #expect(after.policyVersion > last.policyVersion, "versions went back: \(after.policyVersion) after \(last.policyVersion)")
            #expect(after.updates >= before.updates, "updates not carried over")
            #expect(after.chunksAccepted >= before.chunksAccepted)
            #expect(after.accounting.received >= before.accounting.received)
            let resumedEpisodes = after.episodes
            // The workers that kept running reconnect to the same run, and the restored policy
            // earns ≥ 400 again on episodes that end after the restart (the mean restarts empty).
            var back = false
            while Date().timeIntervalSince(resumedAt) < 5 {
                try await Task.sleep(for: .milliseconds(250))
                after = try TelemetryProcessTests.status(second)
                if after.episodes >= resumedEpisodes + 10, after.meanReturn100 >= 400 {
                    print("resumed policy back at \(after.meanReturn100) over \(after.episodes - resumedEpisodes) episodes after \(Date().timeIntervalSince(resumedAt)) s")
                    back = true
                    break
                }
            }
            #expect(back, "mean return \(after.meanReturn100) over \(after.episodes - resumedEpisodes) new episodes, \(Date().timeIntervalSince(resumedAt)) s after the restart")
            // Both workers act for the resumed run (each sends chunks after its new Hello).
            let workersBack = Date().addingTimeInterval(30)
            while Date() < workersBack, !(after.workers.count == 2 && after.workers.allSatisfy { $0.chunksReceived > 0 }) {
                try await Task.sleep(for: .milliseconds(250))
                after = try TelemetryProcessTests.status(second)
            }
            #expect(Set(after.workers.map(\.workerID)) == ["ck-0", "ck-1"])
            #expect(after.workers.allSatisfy { $0.chunksReceived > 0 && $0.chunksRejected == 0 }, "\(after.workers)")
            let final = try second.stop()
            #expect(final.runID == "r-kill")
            for w in workers {
                w.signal(SIGTERM)
                #expect(w.waitExit(timeout: 10) == 0)
            }
        }

        /// Resuming a directory with no usable checkpoint is a one-line error, not a fresh run.
        @Test func resumingWithoutACheckpointIsRefused() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trib-nockpt-\(getpid())")
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            try Data("TRIBUTARY-CHECKPOINT 1\nsha256 00\n{}".utf8).write(to: dir.appendingPathComponent("checkpoints/checkpoint-000000000007.ckpt"))
            let p = try ManagedProcess("learner", ["--resume", dir.path, "--data-port", "0", "--weights-port", "0", "--control-port", "0", "--no-metrics"])
            #expect(p.waitExit(timeout: 20) != 0)
            #expect(p.stderr.contains("cannot resume") && p.stderr.contains("digest mismatch"), "\(p.stderr)")
        }
    }
}
