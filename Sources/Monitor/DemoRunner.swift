import Foundation
import Protocol

/// Runs the main job on one machine: a `learner` and N `rollout-worker` processes (real
/// processes, ZeroMQ over loopback), a progress line while they run, and a summary.
public struct DemoRunner {
    public var binDirectory: URL
    public var workers = 2
    public var duration: Duration = .seconds(10)
    public var output: (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }

    public init(binDirectory: URL) {
        self.binDirectory = binDirectory
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public func run() async throws {
        let isTTY = isatty(STDOUT_FILENO) == 1
        let started = ContinuousClock.now
        let learner = try ChildProcess(binDirectory.appendingPathComponent("learner"),
                                       ["--bind", "127.0.0.1", "--data-port", "0", "--weights-port", "0", "--control-port", "0", "--log-level", "warning"])
        guard let ready = try? learner.event("ready"),
              let data = (ready["data"] as? [String])?.first, let weights = (ready["weights"] as? [String])?.first,
              let control = (ready["control"] as? [String])?.first
        else { throw Failure(description: "the learner did not start: \(learner.stderr.suffix(2000))") }
        output("learner \(ready["run_id"] ?? "") on \(data) (weights \(weights), control \(control))\n")
        var children: [ChildProcess] = []
        for i in 0..<workers {
            children.append(try ChildProcess(binDirectory.appendingPathComponent("rollout-worker"),
                                             ["--data", data, "--weights", weights, "--control", control, "--worker-id", "demo-\(i)", "--log-level", "warning"]))
        }
        output("\(workers) rollout workers streaming synthetic chunks for \(duration) (the learning core replaces them with CartPole)\n")
        var lastSteps: UInt64 = 0
        var lastTime = ContinuousClock.now
        while ContinuousClock.now - started < duration {
            try await Task.sleep(for: .seconds(1))
            guard let s = try? await StatusClient.fetch(endpoint: control, timeout: .seconds(2), includeWorkers: false) else { continue }
            let now = ContinuousClock.now
            let seconds = Double((now - lastTime).components.seconds) + Double((now - lastTime).components.attoseconds) * 1e-18
            let rate = Double(s.stepsReceived - min(lastSteps, s.stepsReceived)) / max(seconds, 1e-3)
            lastSteps = s.stepsReceived
            lastTime = now
            let line = String(format: "steps %@ (%@/s)  chunks %@  version %llu  workers %u  rejected %llu",
                              group(s.stepsReceived), group(UInt64(rate)), group(s.chunksAccepted), s.policyVersion,
                              s.workersConnected, s.rejected.values.reduce(0, +))
            output(isTTY ? "\r\u{1B}[K" + line : line + "\n")
        }
        if isTTY { output("\n") }
        for c in children { c.signal(SIGTERM) }
        for c in children { c.waitExit(timeout: 10) }
        learner.signal(SIGTERM)
        guard learner.waitExit(timeout: 10) == 0,
              let summary = try? learner.event("summary", timeout: 2),
              let status = summary["status"] as? [String: Any]
        else { throw Failure(description: "the learner did not stop cleanly: \(learner.stderr.suffix(2000))") }
        func n(_ key: String) -> UInt64 { (status[key] as? NSNumber)?.uint64Value ?? 0 }
        let wall = ContinuousClock.now - started
        let ingest = (summary["ingest_seconds"] as? NSNumber)?.doubleValue ?? 0
        let rejected = (status["rejected"] as? [String: Any])?.values.compactMap { ($0 as? NSNumber)?.uint64Value }.reduce(0, +) ?? 0
        output("""
            summary
              wall time        \(String(format: "%.1f", Double(wall.components.seconds) + Double(wall.components.attoseconds) * 1e-18)) s
              env steps        \(group(n("steps_received"))) (\(group(UInt64(Double(n("steps_received")) / max(ingest, 1e-3))))/s)
              chunks           accepted \(group(n("chunks_accepted"))), consumed \(group(n("chunks_consumed"))), rejected \(rejected)
              policy versions  \(n("policy_version"))
              bytes received   \(group(n("bytes_received")))

            """)
    }

    private func group(_ v: UInt64) -> String {
        let s = String(v)
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }
}
