import Foundation
import Monitor

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
        let ready = try p.event("ready")
        func first(_ key: String) -> String { (ready[key] as? [String])?.first ?? "" }
        return LearnerProcess(process: p, data: first("data"), weights: first("weights"), control: first("control"),
                              metrics: ready["metrics"] as? String ?? "")
    }

    func worker(_ id: String, _ extra: [String] = [], wrapper: [String] = []) throws -> ManagedProcess {
        try ManagedProcess(
            "rollout-worker",
            ["--data", data, "--weights", weights, "--control", control, "--worker-id", id,
             "--hello-timeout-ms", "1000", "--backoff-initial-ms", "50", "--backoff-max-ms", "400", "--log-level", "warning"] + extra,
            name: id, wrapper: wrapper)
    }

    /// SIGTERM, then the summary event's `status` object.
    func stop() throws -> [String: Any] {
        process.signal(SIGTERM)
        let code = process.waitExit(timeout: 10)
        guard code == 0 else { throw TestFailure("learner exited with \(String(describing: code)); stderr: \(process.stderr.suffix(800))") }
        let summary = try process.event("summary", timeout: 1)
        return summary["status"] as? [String: Any] ?? [:]
    }
}

extension Dictionary where Key == String, Value == Any {
    /// A proto3-JSON number field (absent means 0).
    func int(_ key: String) -> Int { (self[key] as? NSNumber)?.intValue ?? 0 }
    func uint64(_ key: String) -> UInt64 { (self[key] as? NSNumber)?.uint64Value ?? 0 }
}
