import Events
import Foundation
import Testing

extension Integration {
    /// The learner's TensorBoard event file, read back by TensorBoard itself (the pip package
    /// `tensorboard`, through scripts/read-tfevents.py in the venv of scripts/tensorboard-venv.sh,
    /// whose python `make test` passes as TRIBUTARY_TB_PYTHON): every scalar equals, to float32
    /// precision, the number in the metrics.jsonl line of the same update, at step = env_steps.
    @Suite(.serialized) struct TensorBoardReadBackTests {
        /// metrics.jsonl key (dotted: inside `buffer`; `buffer.dropped` summed over reasons) of each tag.
        static let keys: [String: String] = [
            "charts/episodic_return_mean100": "episodic_return_mean100", "charts/sps": "sps", "charts/episodes": "episodes",
            "charts/policy_version": "policy_version", "charts/update": "update",
            "losses/loss": "loss", "losses/policy_loss": "policy_loss", "losses/value_loss": "value_loss",
            "losses/entropy": "entropy", "losses/approx_kl": "approx_kl",
            "staleness/lag_mean": "lag_mean", "staleness/lag_max": "lag_max", "staleness/lag_min": "lag_min",
            "correction/clipped_fraction": "clipped_fraction", "correction/dual_clipped_fraction": "dual_clipped_fraction",
            "correction/truncated_fraction": "truncated_fraction", "correction/masked_fraction": "masked_fraction",
            "correction/ess": "ess", "correction/mean_abs_log_ratio": "mean_abs_log_ratio",
            "correction/rho_truncated_fraction": "rho_truncated_fraction",
            "buffer/received": "buffer.received", "buffer/trained": "buffer.trained", "buffer/dropped": "buffer.dropped",
            "buffer/buffered": "buffer.buffered", "buffer/training_uses": "buffer.training_uses",
            "buffer/chunks_reused": "chunks_reused",
        ]

        @Test(arguments: ["vtrace", "ppo"]) func learnerEventFileReadsBackInTensorBoard(correction: String) throws {
            guard let python = ProcessInfo.processInfo.environment["TRIBUTARY_TB_PYTHON"], !python.isEmpty else {
                Issue.record("TRIBUTARY_TB_PYTHON is not set: run `make test`, or set it to the python that scripts/tensorboard-venv.sh prints")
                return
            }
            let runs = FileManager.default.temporaryDirectory.appendingPathComponent("trib-tb-\(getpid())-\(correction)")
            defer { try? FileManager.default.removeItem(at: runs) }

            // A short CartPole run: 40 updates, a metrics line (and an event) every 5.
            let learner = try LearnerProcess.start(["--env", "CartPole-v1", "--seed", "1", "--runs", runs.path,
                                                    "--correction", correction, "--max-updates", "40", "--metrics-every", "5"])
            let workers = try (0..<2).map { try learner.worker("tb-\($0)", ["--env", "CartPole-v1", "--num-envs", "8", "--seed", String($0 + 1)]) }
            let code = learner.process.waitExit(timeout: 120)
            for w in workers { w.signal(SIGTERM) }
            for w in workers { _ = w.waitExit(timeout: 10) }
            try #require(code == 0, "learner: \(learner.process.stderr.suffix(800))")
            let dir = try #require(try learner.process.event(LearnerSummary.self, timeout: 2).runDirectory)

            // What metrics.jsonl says, as tag → [(step, value)].
            let lines = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            try #require(lines.count >= 8, "\(lines.count) metrics lines")
            var expected: [String: [(step: Int64, value: Double)]] = [:]
            for line in lines {
                let step = try #require((line["env_steps"] as? NSNumber)?.int64Value)
                let buffer = line["buffer"] as? [String: Any] ?? [:]
                #expect(line["approx_kl"] is NSNumber, "metrics.jsonl lacks approx_kl")
                #expect(((line["approx_kl"] as? NSNumber)?.doubleValue ?? -1) >= 0, "approx_kl is never negative")
                for (tag, key) in Self.keys {
                    let raw: Any?
                    if key == "buffer.dropped" {
                        raw = (buffer["dropped"] as? [String: NSNumber])?.values.map(\.doubleValue).reduce(0, +)
                    } else if key.hasPrefix("buffer.") {
                        raw = buffer[String(key.dropFirst("buffer.".count))]
                    } else {
                        raw = line[key]
                    }
                    guard let value = (raw as? NSNumber)?.doubleValue ?? (raw as? Double) else {
                        #expect(key == "episodic_return_mean100", "metrics.jsonl has no number at \(key)")
                        continue  // no finished episode yet: TensorBoard has no point either
                    }
                    expected[tag, default: []].append((step, value))
                }
            }

            // What TensorBoard reads.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            func readBack(_ args: [String]) throws -> Data {
                let reader = Process()
                reader.executableURL = URL(fileURLWithPath: python)
                reader.arguments = [root.appendingPathComponent("scripts/read-tfevents.py").path] + args + [dir]
                let out = Pipe(), err = Pipe()
                reader.standardOutput = out
                reader.standardError = err
                try reader.run()
                let stdout = out.fileHandleForReading.readDataToEndOfFile()
                let stderr = err.fileHandleForReading.readDataToEndOfFile()
                reader.waitUntilExit()
                try #require(reader.terminationStatus == 0, "read-tfevents.py: \(String(decoding: stderr, as: UTF8.self).suffix(1500))")
                return stdout
            }
            var read = try #require(try JSONSerialization.jsonObject(with: try readBack([])) as? [String: [[NSNumber]]])

            // Finished episodes, one point each (CartPole: the return is the length), at the env
            // steps received when they arrived, at most 10 a second.
            let returns = try #require(read["charts/episodic_return"])
            let lengths = try #require(read["charts/episodic_length"])
            read["charts/episodic_return"] = nil
            read["charts/episodic_length"] = nil
            #expect(!returns.isEmpty && returns.count == lengths.count)
            for (r, l) in zip(returns, lengths) {
                #expect(r[0] == l[0] && r[1] == l[1], "return \(r) and length \(l) of one CartPole episode differ")
                #expect((9...500).contains(r[1].doubleValue), "a CartPole return of \(r[1])")
            }
            // The settings as text, as CleanRL's `hyperparameters`.
            let texts = try #require(try JSONSerialization.jsonObject(with: try readBack(["--text"])) as? [String: [[Any]]])
            let hyper = try #require(texts["hyperparameters/text_summary"]?.first?[1] as? String, "text tags: \(texts.keys)")
            #expect(hyper.hasPrefix("|setting|value|") && hyper.contains("|correction|\(correction)|") && hyper.contains("|seed|1|"), "\(hyper)")

            #expect(Set(read.keys) == Set(Self.keys.keys), "tags: \(read.keys.sorted())")
            #expect(read["charts/sps"]?.count == lines.count, "one event per metrics line")
            for (tag, want) in expected {
                let got = (read[tag] ?? []).map { (step: $0[0].int64Value, value: $0[1].doubleValue) }
                #expect(got.count == want.count, "\(tag): \(got.count) points, metrics.jsonl has \(want.count)")
                #expect(zip(got, got.dropFirst()).allSatisfy { $0.step <= $1.step }, "\(tag): steps go back: \(got.map(\.step))")
                #expect((got.last?.step ?? 0) > (got.first?.step ?? 0), "\(tag): steps do not increase: \(got.map(\.step))")
                for (g, w) in zip(got, want) {
                    #expect(g.step == w.step, "\(tag): step \(g.step), env_steps \(w.step)")
                    // float32 (TensorBoard's simple_value) of the same double.
                    #expect(abs(g.value - Double(Float(w.value))) <= 1e-6 * max(1, abs(w.value)),
                            "\(tag) at step \(w.step): TensorBoard \(g.value), metrics.jsonl \(w.value)")
                }
            }
        }
    }
}
