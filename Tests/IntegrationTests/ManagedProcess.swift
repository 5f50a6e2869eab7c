import Foundation
import Synchronization

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

/// A child process whose stdout lines (JSON events) and stderr are collected as they come.
final class ManagedProcess: @unchecked Sendable {
    let name: String
    let process = Process()
    private let lines = Mutex<[String]>([])
    private let errors = Mutex<String>("")
    private let readers = DispatchGroup()

    init(_ executable: String, _ arguments: [String], name: String? = nil, wrapper: [String] = []) throws {
        self.name = name ?? executable
        if wrapper.isEmpty {
            process.executableURL = URL(fileURLWithPath: Binaries.path(executable))
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: wrapper[0])
            process.arguments = Array(wrapper.dropFirst()) + [Binaries.path(executable)] + arguments
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        read(out.fileHandleForReading) { chunk in
            self.lines.withLock { $0.append(contentsOf: chunk.split(separator: "\n").map(String.init)) }
        }
        read(err.fileHandleForReading) { chunk in self.errors.withLock { $0 += chunk } }
    }

    private func read(_ handle: FileHandle, _ sink: @escaping @Sendable (String) -> Void) {
        readers.enter()
        let group = readers
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                pending.append(data)
                if let cut = pending.lastIndex(of: UInt8(ascii: "\n")) {
                    sink(String(decoding: pending[...cut], as: UTF8.self))
                    pending.removeSubrange(...cut)
                }
            }
            if !pending.isEmpty { sink(String(decoding: pending, as: UTF8.self)) }
            group.leave()
        }
    }

    var stdoutLines: [String] { lines.withLock { $0 } }
    var stderr: String { errors.withLock { $0 } }
    var pid: Int32 { process.processIdentifier }

    /// JSON objects printed on stdout so far.
    var events: [[String: Any]] {
        stdoutLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Waits for a stdout event satisfying `match`.
    func waitForEvent(timeout: TimeInterval = 10, _ match: ([String: Any]) -> Bool) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let e = events.first(where: match) { return e }
            if !process.isRunning {
                _ = readers.wait(timeout: .now() + 1)
                if let e = events.first(where: match) { return e }
                throw TestFailure("\(name) exited (\(process.terminationStatus)) without the event; stderr tail: \(stderr.suffix(800))")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestFailure("\(name): no matching event within \(timeout) s; stdout: \(stdoutLines.suffix(5)); stderr tail: \(stderr.suffix(800))")
    }

    func event(_ name: String, timeout: TimeInterval = 10) throws -> [String: Any] {
        try waitForEvent(timeout: timeout) { $0["event"] as? String == name }
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit; nil when it did not exit in time (then it is killed).
    @discardableResult
    func waitExit(timeout: TimeInterval = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            signal(SIGKILL)
            process.waitUntilExit()
            return nil
        }
        _ = readers.wait(timeout: .now() + 2)
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
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

    static func start(_ extra: [String] = [], endpoints: (String, String, String)? = nil, wrapper: [String] = []) throws -> LearnerProcess {
        var args = ["--heartbeat-ms", "200", "--liveness-ms", "1500", "--log-level", "warning"]
        if let (d, w, c) = endpoints {
            args += ["--data", d, "--weights", w, "--control", c]
        } else {
            args += ["--bind", "127.0.0.1", "--data-port", "0", "--weights-port", "0", "--control-port", "0"]
        }
        let p = try ManagedProcess("learner", args + extra, name: "learner", wrapper: wrapper)
        let ready = try p.event("ready")
        func first(_ key: String) -> String { (ready[key] as? [String])?.first ?? "" }
        return LearnerProcess(process: p, data: first("data"), weights: first("weights"), control: first("control"))
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
