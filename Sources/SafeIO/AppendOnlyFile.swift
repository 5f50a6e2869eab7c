import Foundation
import Locking

/// A file that lines are appended to from any thread, with write(2): a full disk or a closed
/// file is a counted failure and a message, never a trap (FileHandle.write traps on errors).
public final class AppendOnlyFile: Sendable {
    private struct State {
        var fd: Int32
        var failures = 0
        var reported = false
    }
    private let state: Mutex<State>
    public let path: String
    private let onError: @Sendable (String) -> Void
    /// Whether `close()` closes the descriptor (not for standard output and error).
    private let owned: Bool

    /// Creates (or truncates) `path` for appending.
    public init(path: String, truncate: Bool = true, onError: @escaping @Sendable (String) -> Void) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: "\(path): \(String(cString: strerror(errno)))"])
        }
        self.path = path
        self.onError = onError
        owned = true
        state = Mutex(State(fd: fd))
    }

    /// Appends to a descriptor this process already has (standard output or error); `close()`
    /// only stops the writes, the descriptor stays open.
    public init(descriptor: Int32, name: String, onError: @escaping @Sendable (String) -> Void) {
        path = name
        self.onError = onError
        owned = false
        state = Mutex(State(fd: descriptor))
    }

    /// Appends `text` as one write.
    @discardableResult
    public func write(_ text: String) -> Bool { append(Data(text.utf8)) }

    /// Appends `text` and a newline as one write.
    @discardableResult
    public func writeLine(_ text: String) -> Bool { append(Data((text + "\n").utf8)) }

    /// Appends `data` whole; false (counted, and said once) when the system refused it.
    @discardableResult
    public func append(_ data: Data) -> Bool {
        let (ok, report): (Bool, String?) = state.withLock { s in
            guard s.fd >= 0 else {
                s.failures += 1
                return (false, nil)
            }
            let failure = data.withUnsafeBytes { writeAll(s.fd, $0).error }
            guard let failure else { return (true, nil) }
            s.failures += 1
            defer { s.reported = true }
            return (false, s.reported ? nil : "\(path): \(String(cString: strerror(failure))); later failed writes are counted, not reported")
        }
        if let report { onError(report) }
        return ok
    }

    /// Appends that failed so far.
    public var failures: Int { state.withLock { $0.failures } }

    public func close() {
        state.withLock { s in
            if s.fd >= 0, owned { Foundation.close(s.fd) }
            s.fd = -1
        }
    }

    deinit { close() }
}
