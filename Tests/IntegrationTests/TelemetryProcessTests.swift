import Events
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Protocol
import Telemetry
import Testing
import TestSupport

extension Integration {
    /// The operator's views of one live learner agree: `tributary status --json`, `/metrics`
    /// scraped over HTTP, `tributary top` and `staleness --by-worker`, and metrics.jsonl.
    @Suite struct TelemetryProcessTests {
        static func get(_ url: String) throws -> (Int, String) {
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var result: (Int, String)?
            nonisolated(unsafe) var failure: (any Error)?
            URLSession.shared.dataTask(with: URL(string: url)!) { data, response, error in
                if let error { failure = error }
                result = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
                done.signal()
            }.resume()
            guard done.wait(timeout: .now() + 10) == .success else { throw TestFailure("GET \(url) timed out") }
            if let failure { throw failure }
            return result!
        }

        /// `tributary status --json`, read back with SwiftProtobuf's JSON decoder.
        static func status(_ learner: LearnerProcess) throws -> Tributary_V1_StatusReply {
            // The CLI's own timeout is the one that should fire (with a message); the wait is longer
            // so that a loaded machine (the whole suite on 2 cores) is not mistaken for a hang.
            let started = Date()
            let p = try ManagedProcess("tributary", ["status", "--json", "--learner", learner.control, "--timeout", "20"])
            let code = p.waitExit(timeout: 40)
            guard code == 0 else {
                throw TestFailure("status \(code.map { "exited \($0)" } ?? "was killed after 40 s") after \(Date().timeIntervalSince(started)) s: \(p.stderr)")
            }
            return try p.statusReply()
        }

        @Test func statusMetricsTopAndMetricsFileAgreeOnALiveRun() throws {
            let runs = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-telemetry-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: runs) }
            let learner = try LearnerProcess.start(["--env", "CartPole-v1", "--runs", runs.path, "--metrics-every", "1"])
            #expect(learner.metrics.hasPrefix("http://127.0.0.1:"), "ready event: \(learner.metrics)")
            let workers = try (0..<2).map { try learner.worker("tel-\($0)", ["--env", "CartPole-v1", "--num-envs", "8", "--seed", String($0 + 1)]) }
            for w in workers { _ = try w.event(WorkerActing.self) }
            Thread.sleep(forTimeInterval: 2)

            // Counters only grow, so a scrape between two status replies lies between them.
            let before = try Self.status(learner)
            let (code, body) = try Self.get(learner.metrics + "/metrics")
            let after = try Self.status(learner)
            #expect(code == 200)
            let m = try PrometheusText.parse(body)
            func between(_ metric: String, _ read: (Tributary_V1_StatusReply) -> UInt64) {
                let value = m[metric] ?? -1
                #expect(Double(read(before)) <= value && value <= Double(read(after)), "\(metric) \(value) not in [\(read(before)), \(read(after))]")
            }
            between("tributary_buffer_received_chunks_total") { $0.accounting.received }
            between("tributary_buffer_trained_chunks_total") { $0.accounting.trained }
            between("tributary_env_steps_total") { $0.stepsReceived }
            between("tributary_updates_total") { $0.updates }
            between("tributary_episodes_total") { $0.episodes }
            between("tributary_trained_staleness_versions_count") { $0.trainedLag.counts.reduce(0, +) }
            #expect(m["tributary_buffer_received_chunks_total"]! > 0)
            // One scrape is one status snapshot: the accounting identity holds exactly within it.
            let dropped = m.filter { $0.key.hasPrefix("tributary_buffer_dropped_chunks_total") }.values.reduce(0, +)
            #expect(m["tributary_buffer_received_chunks_total"] == m["tributary_buffer_trained_chunks_total"]! + dropped + m["tributary_buffer_chunks"]!)
            #expect(m["tributary_workers_connected"] == 2)
            #expect((m["tributary_start_time_seconds"] ?? 0) > 1.7e9 && (m["process_resident_memory_bytes"] ?? 0) > 1e6)
            #expect(m.keys.filter { $0.hasPrefix("tributary_buffer_dropped_chunks_total") }.count >= 7, "every drop reason from the start")
            #expect(body.contains("# TYPE tributary_trained_staleness_versions histogram"))

            let (healthCode, health) = try Self.get(learner.metrics + "/healthz")
            #expect(healthCode == 200 && health.contains("\"status\":\"ok\"") && health.contains("\"workers_connected\":2"), "\(health)")

            // top, one frame of 80×24 (not a terminal here): the run, both workers, the histogram.
            let top = try ManagedProcess("tributary", ["top", "--once", "--learner", learner.control])
            #expect(top.waitExit(timeout: 10) == 0)
            let screen = top.stdoutLines
            // 24 lines (the process reader leaves out the empty ones at the end), none wider than 80.
            #expect(screen.count <= 24 && screen.count >= 12 && screen.allSatisfy { $0.count <= 80 }, "\(screen.joined(separator: "\n"))")
            #expect(screen.contains { $0.hasPrefix("tel-0") } && screen.contains { $0.hasPrefix("tel-1") })
            #expect(screen.contains { $0.hasPrefix("staleness (trained):") })
            #expect(screen.dropFirst().first?.contains(before.runID) == true)

            // With the workers gone no update happens: the last metrics.jsonl line and the
            // per-update gauges describe the same update.
            for w in workers { w.signal(SIGTERM) }
            for w in workers { #expect(w.waitExit(timeout: 10) == 0) }
            // The learner may still train on what its buffer holds: wait until two scrapes half a
            // second apart show the same update count.
            var quiet: [String: Double] = [:]
            for _ in 0..<40 {
                Thread.sleep(forTimeInterval: 0.5)
                let scrape = try PrometheusText.parse(try Self.get(learner.metrics + "/metrics").1)
                if scrape["tributary_updates_total"] == quiet["tributary_updates_total"] { break }
                quiet = scrape
            }
            let runID = before.runID
            let lines = try String(contentsOf: runs.appendingPathComponent(runID).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
                .split(separator: "\n")
            let last = try #require(lines.last.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect((last["update"] as? NSNumber)?.doubleValue == quiet["tributary_updates_total"])
            let loss = (last["loss"] as? NSNumber)?.doubleValue ?? .nan
            #expect(abs((quiet["tributary_loss{term=\"total\"}"] ?? .nan) - loss) <= 1e-9 * max(1, abs(loss)), "loss \(loss) vs \(String(describing: quiet["tributary_loss{term=\"total\"}"]))")
            let ess = (last["ess"] as? NSNumber)?.doubleValue ?? .nan
            // Both print the same double; JSONSerialization may round its last digit differently.
            #expect(abs((quiet["tributary_correction_ess{correction=\"vtrace\"}"] ?? .nan) - ess) <= 1e-12, "ess \(ess)")
            _ = try learner.stop()

            // Nothing listening: top, like every query command, fails fast with one line and exit 2.
            let none = try ManagedProcess("tributary", ["top", "--learner", "127.0.0.1:1", "--timeout", "1"])
            #expect(none.waitExit(timeout: 10) == 2)
            #expect(none.stderr.contains("no answer from a learner at tcp://127.0.0.1:1"), "\(none.stderr)")
        }
    }
}
