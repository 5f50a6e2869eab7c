import Events
import Foundation
import Testing
import Monitor
import Protocol

/// Every suite of real processes runs inside this one, one test at a time. Run side by side they
/// starved each other: a test blocked in a process wait holds one of the two threads of Swift's
/// cooperative pool on a 2-core machine, two such tests hold both, and every async test's
/// timeouts then fired tens of seconds late (a 6 s test took 288 s and failed).
@Suite(.serialized) enum Integration {}

/// Where the built executables are: $TRIBUTARY_BIN_DIR (set by `make test`), else next to
/// the test bundle (swift test puts both in the same bin folder).
enum Binaries {
    static var directory: URL {
        if let dir = ProcessInfo.processInfo.environment["TRIBUTARY_BIN_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        var url = Bundle.main.bundleURL
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("learner").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug")
    }

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// The tests' processes are Monitor's `ChildProcess`, started by executable name.
typealias ManagedProcess = ChildProcess

extension ChildProcess {
    convenience init(_ executable: String, _ arguments: [String], name: String? = nil, wrapper: [String] = []) throws {
        try self.init(URL(fileURLWithPath: Binaries.path(executable)), arguments, name: name ?? executable, prefix: wrapper)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A learner process on ephemeral loopback ports (or on given endpoints).
struct LearnerProcess {
    let process: ManagedProcess
    let data: String
    let weights: String
    let control: String
    /// Base URL of /metrics and /healthz (ephemeral port).
    let metrics: String

    static func start(_ extra: [String] = [], endpoints: (String, String, String)? = nil, wrapper: [String] = []) throws -> LearnerProcess {
        var args = ["--heartbeat-ms", "200", "--liveness-ms", "1500", "--log-level", "warning"]
        if let (d, w, c) = endpoints {
            args += ["--data", d, "--weights", w, "--control", c, "--metrics-bind", "127.0.0.1", "--metrics-port", "0"]
        } else {
            args += ["--bind", "127.0.0.1", "--data-port", "0", "--weights-port", "0", "--control-port", "0", "--metrics-port", "0"]
        }
        let p = try ManagedProcess("learner", args + extra, name: "learner", wrapper: wrapper)
        let ready = try p.event(LearnerReady.self)
        return LearnerProcess(process: p, data: ready.data.first ?? "", weights: ready.weights.first ?? "", control: ready.control.first ?? "",
                              metrics: ready.metrics ?? "")
    }

    func worker(_ id: String, _ extra: [String] = [], wrapper: [String] = []) throws -> ManagedProcess {
        try ManagedProcess(
            "rollout-worker",
            ["--data", data, "--weights", weights, "--control", control, "--worker-id", id,
             "--hello-timeout-ms", "1000", "--backoff-initial-ms", "50", "--backoff-max-ms", "400", "--log-level", "warning"] + extra,
            name: id, wrapper: wrapper)
    }

    /// SIGTERM, then the summary event's status.
    func stop() throws -> Tributary_V1_StatusReply {
        process.signal(SIGTERM)
        let code = process.waitExit(timeout: 10)
        guard code == 0 else { throw TestFailure("learner exited with \(String(describing: code)); stderr: \(process.stderr.suffix(800))") }
        return try process.event(LearnerSummary.self, timeout: 1).status
    }
}

extension ChildProcess {
    /// Its stdout as one StatusReply (`tributary status --json`), read with SwiftProtobuf's
    /// JSON decoder.
    func statusReply() throws -> Tributary_V1_StatusReply {
        try WireJSON.decode(Tributary_V1_StatusReply.self, from: stdoutLines.joined())
    }
}
