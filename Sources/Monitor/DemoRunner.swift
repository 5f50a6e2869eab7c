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
        let learner = try Child(binDirectory.appendingPathComponent("learner"),
                                ["--bind", "127.0.0.1", "--data-port", "0", "--weights-port", "0", "--control-port", "0", "--log-level", "warning"])
        defer { learner.kill() }
        guard let ready = learner.waitForJSON(timeout: 10, where: { $0["event"] as? String == "ready" }),
              let data = (ready["data"] as? [String])?.first, let weights = (ready["weights"] as? [String])?.first,
              let control = (ready["control"] as? [String])?.first
        else { throw Failure(description: "the learner did not start: \(learner.stderrTail)") }
        output("learner \(ready["run_id"] ?? "") on \(data) (weights \(weights), control \(control))\n")
        var children: [Child] = []
        defer { children.forEach { $0.kill() } }
        for i in 0..<workers {
            children.append(try Child(binDirectory.appendingPathComponent("rollout-worker"),
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
        for c in children { c.terminate() }
        for c in children { _ = c.wait(timeout: 10) }
        learner.terminate()
        guard learner.wait(timeout: 10) == 0,
              let summary = learner.waitForJSON(timeout: 2, where: { $0["event"] as? String == "summary" }),
              let status = summary["status"] as? [String: Any]
        else { throw Failure(description: "the learner did not stop cleanly: \(learner.stderrTail)") }
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

/// A child process whose stdout JSON lines and stderr tail are kept.
final class Child: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private var errors = ""

    init(_ executable: URL, _ arguments: [String]) throws {
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Thread.detachNewThread { [self] in
            var pending = Data()
            while case let data = out.fileHandleForReading.availableData, !data.isEmpty {
                pending.append(data)
                while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[..<nl], as: UTF8.self)
                    pending.removeSubrange(...nl)
                    lock.withLock { lines.append(line) }
                }
            }
        }
        Thread.detachNewThread { [self] in
            while case let data = err.fileHandleForReading.availableData, !data.isEmpty {
                lock.withLock { errors = String((errors + String(decoding: data, as: UTF8.self)).suffix(2000)) }
            }
        }
    }

    var stderrTail: String { lock.withLock { errors } }

    func waitForJSON(timeout: TimeInterval, where match: ([String: Any]) -> Bool) -> [String: Any]? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let objects = lock.withLock { lines }.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            if let hit = objects.first(where: match) { return hit }
            Thread.sleep(forTimeInterval: 0.02)
        } while Date() < deadline
        return nil
    }

    func terminate() { if process.isRunning { Foundation.kill(process.processIdentifier, SIGTERM) } }
    func kill() { if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) } }

    func wait(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return process.isRunning ? nil : process.terminationStatus
    }
}
