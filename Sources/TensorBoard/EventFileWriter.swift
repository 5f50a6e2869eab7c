import Dispatch
import Foundation
import SwiftProtobuf

#if canImport(Glibc)
import Glibc
#endif

/// Writes a TensorBoard event file: `events.out.tfevents.<unix seconds>.<hostname><suffix>` in
/// a directory, TFRecord-framed `Event` protos, the first one `file_version: "brain.Event:2"`.
/// `tensorboard --logdir <parent>` shows the directory as one run.
///
/// Writes are buffered. The buffer goes to the file when it holds `flushBytes`, at most
/// `flushInterval` after the first record that is not yet on disk (a timer, so a writer that
/// goes quiet still shows its last points to a live TensorBoard), on `flush()`, `close()` and
/// deinit. Thread-safe: every method takes one lock.
///
/// Failures: `init` throws when the file cannot be created (directory missing, no
/// permission, a file of that name exists). A failing write never crashes: the records not
/// written are dropped and counted (`droppedRecords`), a partly written record is cut off
/// again so the file stays readable, the first failure is reported through `onError` (default:
/// one line on stderr), and writing carries on with the next records.
public final class EventFileWriter: @unchecked Sendable {
    public let url: URL
    public let flushInterval: Double
    public let flushBytes: Int

    private let lock = NSLock()
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var bufferedRecords = 0
    /// File size after the last fully written record.
    private var committed: Int64 = 0
    private var timerArmed = false
    private var dropped = 0
    private var failures = 0
    private let onError: @Sendable (String) -> Void

    /// Creates the file in `directory` (which must exist) and writes the file-version event.
    /// `wallTime` (Unix seconds) names the file and stamps that first event.
    public init(directory: URL, filenameSuffix: String = "", wallTime: Double = Date().timeIntervalSince1970,
                flushInterval: Double = 2, flushBytes: Int = 64 << 10,
                onError: (@Sendable (String) -> Void)? = nil) throws {
        self.flushInterval = flushInterval
        self.flushBytes = flushBytes
        self.onError = onError ?? { message in FileHandle.standardError.write(Data((message + "\n").utf8)) }
        let name = "events.out.tfevents.\(Int64(wallTime.rounded(.down))).\(Self.hostname())\(filenameSuffix)"
        url = directory.appendingPathComponent(name)
        fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.posixError(errno, url.path) }
        var first = Tensorboard_Event()
        first.wallTime = wallTime
        first.fileVersion = "brain.Event:2"
        do {
            try write(first)
            try flushLocked(throwing: true)
        } catch {
            Glibc.close(fd)
            fd = -1  // deinit still runs (every property is set): nothing left for it to close
            unlink(url.path)
            throw error
        }
    }

    deinit { close() }

    /// One event at `step` whose summary holds every value as a scalar (`simple_value`, float32).
    public func scalars(_ values: [(tag: String, value: Double)], step: Int64,
                        wallTime: Double = Date().timeIntervalSince1970) {
        var event = Tensorboard_Event()
        event.wallTime = wallTime
        event.step = step
        event.summary = Tensorboard_Summary.with { summary in
            summary.value = values.map { tag, value in
                Tensorboard_Summary.Value.with { $0.tag = tag; $0.simpleValue = Float(value) }
            }
        }
        do { try write(event) } catch { report("could not encode an event: \(error)") }
    }

    /// Appends one event (any Event this module's proto can express).
    public func write(_ event: Tensorboard_Event) throws {
        let data: [UInt8] = try event.serializedBytes()
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { dropped += 1; return }
        TFRecord.append(data, to: &buffer)
        bufferedRecords += 1
        if buffer.count >= flushBytes {
            try? flushLocked(throwing: false)
        } else if !timerArmed {
            timerArmed = true
            DispatchQueue.global().asyncAfter(deadline: .now() + flushInterval) { [weak self] in
                guard let self else { return }
                self.lock.lock()
                defer { self.lock.unlock() }
                self.timerArmed = false
                try? self.flushLocked(throwing: false)
            }
        }
    }

    /// Writes the buffered records to the file.
    public func flush() {
        lock.lock()
        defer { lock.unlock() }
        try? flushLocked(throwing: false)
    }

    /// Flushes and closes the file; later writes are dropped (and counted). Idempotent.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return }
        try? flushLocked(throwing: false)
        Glibc.close(fd)
        fd = -1
    }

    /// Records that never reached the file (write failures, writes after `close()`).
    public var droppedRecords: Int {
        lock.lock()
        defer { lock.unlock() }
        return dropped
    }

    /// The open file's descriptor (tests swap it for /dev/full).
    var fileDescriptor: Int32 {
        lock.lock()
        defer { lock.unlock() }
        return fd
    }

    /// Caller holds the lock.
    private func flushLocked(throwing: Bool) throws {
        guard fd >= 0, !buffer.isEmpty else { return }
        defer { buffer.removeAll(keepingCapacity: true); bufferedRecords = 0 }
        var written = 0
        let failure: Int32? = buffer.withUnsafeBytes { p -> Int32? in
            while written < p.count {
                let n = Glibc.write(fd, p.baseAddress! + written, p.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += n
            }
            return nil
        }
        guard let code = failure else {
            committed += Int64(written)
            return
        }
        // Cut a partly written record off again, so readers see whole records only.
        if written > 0 {
            _ = ftruncate(fd, off_t(committed))
            _ = lseek(fd, off_t(committed), SEEK_SET)
        }
        dropped += bufferedRecords
        let error = Self.posixError(code, url.path)
        if throwing { throw error }
        failures += 1
        if failures == 1 {
            report("could not write \(url.path): \(error.localizedDescription); records that fail to write are dropped and counted, further failures are not logged")
        }
    }

    private func report(_ message: String) { onError("tensorboard: " + message) }

    static func hostname() -> String {
        var name = [UInt8](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        let host = String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
        return host.isEmpty ? "localhost" : host
    }

    static func posixError(_ code: Int32, _ path: String) -> Error {
        NSError(domain: NSPOSIXErrorDomain, code: Int(code),
                userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: "\(path): \(String(cString: strerror(code)))"])
    }
}
