import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Telemetry
import Testing

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

    static func statusJSON(_ learner: LearnerProcess) throws -> [String: Any] {
        let p = try ManagedProcess("tributary", ["status", "--json", "--learner", learner.control, "--timeout", "10"])
        guard p.waitExit(timeout: 10) == 0, let reply = p.events.first else { throw TestFailure("status failed: \(p.stderr)") }
        return reply
    }

    @Test func statusMetricsTopAndMetricsFileAgreeOnALiveRun() throws {
        let runs = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-telemetry-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: runs) }
        let learner = try LearnerProcess.start(["--env", "CartPole-v1", "--runs", runs.path, "--metrics-every", "1"])
        #expect(learner.metrics.hasPrefix("http://127.0.0.1:"), "ready event: \(learner.metrics)")
        let workers = try (0..<2).map { try learner.worker("tel-\($0)", ["--env", "CartPole-v1", "--num-envs", "8", "--seed", String($0 + 1)]) }
        for w in workers { _ = try w.event("acting") }
        Thread.sleep(forTimeInterval: 2)

        // Counters only grow, so a scrape between two status replies lies between them.
        let before = try Self.statusJSON(learner)
        let (code, body) = try Self.get(learner.metrics + "/metrics")
        let after = try Self.statusJSON(learner)
        #expect(code == 200)
        let m = try PrometheusText.parse(body)
        func between(_ metric: String, _ read: ([String: Any]) -> UInt64) {
            let value = m[metric] ?? -1
            #expect(Double(read(before)) <= value && value <= Double(read(after)), "\(metric) \(value) not in [\(read(before)), \(read(after))]")
        }
        func acc(_ key: String) -> ([String: Any]) -> UInt64 { { (($0["accounting"] as? [String: Any]) ?? [:]).uint64(key) } }
        between("tributary_buffer_received_chunks_total", acc("received"))
        between("tributary_buffer_trained_chunks_total", acc("trained"))
        between("tributary_env_steps_total") { $0.uint64("steps_received") }
        between("tributary_updates_total") { $0.uint64("updates") }
        between("tributary_episodes_total") { $0.uint64("episodes") }
        between("tributary_trained_staleness_versions_count") { (($0["trained_lag"] as? [String: Any])?["counts"] as? [NSNumber] ?? []).reduce(0) { $0 + $1.uint64Value } }
        #expect(m["tributary_buffer_received_chunks_total"]! > 0)
        // One scrape is one status snapshot: the accounting identity holds exactly within it.
        let dropped = m.filter { $0.key.hasPrefix("tributary_buffer_dropped_chunks_total") }.values.reduce(0, +)
        #expect(m["tributary_buffer_received_chunks_total"] == m["tributary_buffer_trained_chunks_total"]! + dropped + m["tributary_buffer_chunks"]!)
        #expect(m["tributary_workers_connected"] == 2)
        #expect((m["tributary_env_steps_per_second"] ?? 0) > 0)
        #expect(body.contains("# TYPE tributary_trained_staleness_versions histogram"))

        let (healthCode, health) = try Self.get(learner.metrics + "/healthz")
        #expect(healthCode == 200 && health.contains("\"status\":\"ok\""), "\(health)")

        // top, one frame of 80×24 (not a terminal here): the run, both workers, the histogram.
        let top = try ManagedProcess("tributary", ["top", "--once", "--learner", learner.control])
        #expect(top.waitExit(timeout: 10) == 0)
        let screen = top.stdoutLines
        // 24 lines (the process reader leaves out the empty ones at the end), none wider than 80.
        #expect(screen.count <= 24 && screen.count >= 12 && screen.allSatisfy { $0.count <= 80 }, "\(screen.joined(separator: "\n"))")
        #expect(screen.contains { $0.hasPrefix("tel-0") } && screen.contains { $0.hasPrefix("tel-1") })
        #expect(screen.contains { $0.hasPrefix("staleness (trained):") })
        #expect(screen.first?.contains(before["run_id"] as? String ?? "?") == true)

        // With the workers gone no update happens: the last metrics.jsonl line and the
        // per-update gauges describe the same update.
        for w in workers { w.signal(SIGTERM) }
        for w in workers { #expect(w.waitExit(timeout: 10) == 0) }
        Thread.sleep(forTimeInterval: 0.5)
        let (_, still) = try Self.get(learner.metrics + "/metrics")
        let quiet = try PrometheusText.parse(still)
        let runID = before["run_id"] as? String ?? ""
        let lines = try String(contentsOf: runs.appendingPathComponent(runID).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        let last = try #require(lines.last.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(Double(last.uint64("update")) == quiet["tributary_updates_total"])
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
