import Events
import Foundation
import Locking

/// A child process of Tributary's (a learner or a worker) whose stdout lines — JSON events —
/// and stderr are collected as they arrive. Used by `tributary demo` and by the integration
/// tests. A child still running when this object goes away is killed.
public final class ChildProcess: @unchecked Sendable {
    /// The child did not do what was waited for.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let name: String
    public let process = Process()
    /// What the reader threads collect. They hold this, never `self`, so dropping the last
    /// reference to a ChildProcess runs `deinit` (and kills the child) even while it runs: a
    /// test that returns early does not leak a learner.
    private final class Output: Sendable {
        let lines = Mutex<[String]>([])
        let errors = Mutex<String>("")
    }
    private let output = Output()
    private let readers = DispatchGroup()

    /// Starts `executable` with `arguments`; with a `prefix` (e.g. `ip netns exec NS`), runs
    /// `prefix + [executable] + arguments` instead.
    public init(_ executable: URL, _ arguments: [String], name: String? = nil, prefix: [String] = []) throws {
        self.name = name ?? executable.lastPathComponent
        if prefix.isEmpty {
            process.executableURL = executable
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: prefix[0])
            process.arguments = Array(prefix.dropFirst()) + [executable.path] + arguments
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Self.live.withLock { _ = $0.insert(process.processIdentifier) }
        let output = output
        read(out.fileHandleForReading) { chunk in
            output.lines.withLock { $0.append(contentsOf: chunk.split(separator: "\n").map(String.init)) }
        }
        read(err.fileHandleForReading) { chunk in output.errors.withLock { $0 += chunk } }
    }

    private func read(_ handle: FileHandle, _ sink: @escaping @Sendable (String) -> Void) {
        // (`self` is not captured below: see `Output`.)
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

    public var stdoutLines: [String] { output.lines.withLock { $0 } }
    public var stderr: String { output.errors.withLock { $0 } }
    public var pid: Int32 { process.processIdentifier }

    /// The events of type `E` printed on stdout so far.
    public func events<E: EventRecord>(_ type: E.Type) -> [E] {
        stdoutLines.compactMap { EventLine.decode(E.self, from: $0) }
    }

    /// Waits for the first event of type `E` (`{"event": E.name, …}`); fails at once if the
    /// child exits without printing it, and says so if it printed one that does not decode.
    /// With `matching`, waits for the first such event that satisfies it.
    public func event<E: EventRecord>(_ type: E.Type, timeout: TimeInterval = 10, matching: (E) -> Bool = { _ in true }) throws -> E {
        var undecodable: (line: String, error: any Error)?
        let line = try waitForLine(timeout: timeout, describing: "a matching \(E.name) event") { line in
            guard EventLine.name(of: line) == E.name else { return false }
            do {
                return matching(try EventLine.decodeOrThrow(E.self, from: line))
            } catch {
                undecodable = (line, error)
                return true
            }
        }
        if let undecodable, undecodable.line == line {
            throw Failure(description: "\(name): its \(E.name) event does not decode (\(undecodable.error)): \(line.prefix(400))")
        }
        return try EventLine.decodeOrThrow(E.self, from: line)
    }

    /// Waits for a stdout line satisfying `match`; fails at once if the child exits without it.
    public func waitForLine(timeout: TimeInterval = 10, describing what: String = "the line", _ match: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = stdoutLines.first(where: match) { return line }
            if !process.isRunning {
                _ = readers.wait(timeout: .now() + 1)
                if let line = stdoutLines.first(where: match) { return line }
                throw Failure(description: "\(name) exited (\(process.terminationStatus)) without \(what); stderr tail: \(stderr.suffix(800))")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw Failure(description: "\(name): no \(what) within \(timeout) s; stdout: \(stdoutLines.suffix(5)); stderr tail: \(stderr.suffix(800))")
    }

    /// Children started and not yet seen to exit (their pids), for `stopChildrenOnSignals`.
    private static let live = Mutex<Set<Int32>>([])
    private static let signalSources = Mutex<[any DispatchSourceSignal]>([])
    /// Whether a stopping signal arrived already (the second one stops at once).
    private static let signalled = Mutex(false)

    /// From now on SIGINT, SIGTERM and SIGHUP stop every child first: SIGTERM (they shut down
    /// gracefully), SIGKILL after 5 s, then this process exits with 128 + the signal. Children
    /// run in process groups of their own, so Ctrl-C in a terminal reaches only this process;
    /// without this they would outlive it (`tributary demo`).
    ///
    /// `first`: called on the first signal; when it returns true the caller stops everything in
    /// order itself (and can still report), and only a second signal takes the path above.
    public static func stopChildrenOnSignals(announce: @escaping @Sendable (Int32) -> Void = { _ in },
                                             first: (@Sendable (Int32) -> Bool)? = nil) {
        signalSources.withLock { sources in
            guard sources.isEmpty else { return }
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                Glibc.signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    let isFirst = signalled.withLock { was in defer { was = true }; return !was }
                    if isFirst, let first, first(sig) { return }
                    announce(sig)
                    let pids = live.withLock { $0 }
                    for pid in pids { kill(pid, SIGTERM) }
                    let deadline = Date().addingTimeInterval(5)
                    var waiting = pids
                    while !waiting.isEmpty, Date() < deadline {
                        // A child that exited is reaped by Foundation's Process, then kill(pid, 0) fails.
                        waiting = waiting.filter { kill($0, 0) == 0 }
                        if !waiting.isEmpty { Thread.sleep(forTimeInterval: 0.02) }
                    }
                    for pid in waiting { kill(pid, SIGKILL) }
                    exit(128 + sig)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    public func signal(_ sig: Int32) {
        if process.isRunning { kill(process.processIdentifier, sig) }
    }

    /// Waits for exit; nil when it did not exit in time (then it is killed).
    @discardableResult
    public func waitExit(timeout: TimeInterval = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        _ = readers.wait(timeout: .now() + 2)
        Self.live.withLock { _ = $0.remove(process.processIdentifier) }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        Self.live.withLock { _ = $0.remove(process.processIdentifier) }
    }
}
