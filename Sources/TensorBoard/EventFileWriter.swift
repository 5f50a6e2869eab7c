import Dispatch
import Foundation
import Locking
import SafeIO
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
public final class EventFileWriter: Sendable {
    public let url: URL
    public let flushInterval: Double
    public let flushBytes: Int

    /// Everything that changes, behind one lock.
    private struct State {
        var fd: Int32
        var buffer: [UInt8] = []
        var bufferedRecords = 0
        /// File size after the last fully written record.
        var committed: Int64 = 0
        var timerArmed = false
        var dropped = 0
        var failures = 0

        /// Writes the buffer to the file; on failure cuts a partly written record off again
        /// (readers see whole records only), counts the records lost and returns the error.
        mutating func flush(path: String) -> (any Error)? {
            guard fd >= 0, !buffer.isEmpty else { return nil }
            defer { buffer.removeAll(keepingCapacity: true); bufferedRecords = 0 }
            let fd = self.fd
            let (written, failure) = buffer.withUnsafeBytes { writeAll(fd, $0) }
            guard let code = failure else {
                committed += Int64(written)
                return nil
            }
            if written > 0 {
                _ = ftruncate(fd, off_t(committed))
                _ = lseek(fd, off_t(committed), SEEK_SET)
            }
            dropped += bufferedRecords
            failures += 1
            return EventFileWriter.posixError(code, path)
        }

        /// `flush`, returning the error only for the first failure (the one worth a message).
        mutating func flushReportingFirstFailure(path: String) -> (any Error)? {
            flush(path: path).flatMap { failures == 1 ? $0 : nil }
        }
    }
    private let state: Mutex<State>
    private let onError: @Sendable (String) -> Void

    /// Creates the file in `directory` (which must exist) and writes the file-version event.
    /// `wallTime` (Unix seconds) names the file and stamps that first event.
    public init(directory: URL, filenameSuffix: String = "", wallTime: Double = Date().timeIntervalSince1970,
                flushInterval: Double = 2, flushBytes: Int = 64 << 10,
                onError: (@Sendable (String) -> Void)? = nil) throws {
        self.flushInterval = flushInterval
        self.flushBytes = flushBytes
        self.onError = onError ?? { message in StandardStream.error.writeLine(message) }
        let name = "events.out.tfevents.\(Int64(wallTime.rounded(.down))).\(Self.hostname())\(filenameSuffix)"
        url = directory.appendingPathComponent(name)
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.posixError(errno, url.path) }
        var first = Tensorboard_Event()
        first.wallTime = wallTime
        first.fileVersion = "brain.Event:2"
        var initial = State(fd: fd)
        TFRecord.append(try first.serializedBytes(), to: &initial.buffer)
        initial.bufferedRecords = 1
        if let error = initial.flush(path: url.path) {
            Glibc.close(fd)
            unlink(url.path)
            state = Mutex(State(fd: -1))
            throw error
        }
        state = Mutex(initial)
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

    /// One text summary at `step` (TensorBoard's Text tab renders it as Markdown), as
    /// `SummaryWriter.add_text` writes it: tag `TAG/text_summary`, plugin "text", a DT_STRING
    /// tensor of one element.
    public func text(_ tag: String, _ markdown: String, step: Int64 = 0, wallTime: Double = Date().timeIntervalSince1970) {
        var event = Tensorboard_Event()
        event.wallTime = wallTime
        event.step = step
        event.summary = Tensorboard_Summary.with { summary in
            summary.value = [Tensorboard_Summary.Value.with { v in
                v.tag = tag + "/text_summary"
                v.metadata.pluginData.pluginName = "text"
                v.tensor = Tensorboard_TensorProto.with { t in
                    t.dtype = .dtString
                    t.tensorShape.dim = [.with { $0.size = 1 }]
                    t.stringVal = [Data(markdown.utf8)]
                }
            }]
        }
        do { try write(event) } catch { report("could not encode an event: \(error)") }
    }

    /// Appends one event (any Event this module's proto can express).
    public func write(_ event: Tensorboard_Event) throws {
        let data: [UInt8] = try event.serializedBytes()
        let (failure, armTimer): ((any Error)?, Bool) = state.withLock { s in
            guard s.fd >= 0 else { s.dropped += 1; return (nil, false) }
            TFRecord.append(data, to: &s.buffer)
            s.bufferedRecords += 1
            if s.buffer.count >= flushBytes { return (s.flushReportingFirstFailure(path: url.path), false) }
            if s.timerArmed { return (nil, false) }
            s.timerArmed = true
            return (nil, true)
        }
        if let failure { reportFirstFailure(failure) }
        if armTimer {
            DispatchQueue.global().asyncAfter(deadline: .now() + flushInterval) { [weak self] in
                guard let self else { return }
                let failure = self.state.withLock { s in
                    s.timerArmed = false
                    return s.flushReportingFirstFailure(path: self.url.path)
                }
                if let failure { self.reportFirstFailure(failure) }
            }
        }
    }

    /// Writes the buffered records to the file.
    public func flush() {
        if let failure = state.withLock({ s in s.flushReportingFirstFailure(path: url.path) }) {
            reportFirstFailure(failure)
        }
    }

    /// Flushes and closes the file; later writes are dropped (and counted). Idempotent.
    public func close() {
        let failure: (any Error)? = state.withLock { s in
            guard s.fd >= 0 else { return nil }
            let failure = s.flushReportingFirstFailure(path: url.path)
            Glibc.close(s.fd)
            s.fd = -1
            return failure
        }
        if let failure { reportFirstFailure(failure) }
    }

    /// Records that never reached the file (write failures, writes after `close()`).
    public var droppedRecords: Int { state.withLock { $0.dropped } }

    /// The open file's descriptor (tests swap it for /dev/full).
    var fileDescriptor: Int32 { state.withLock { $0.fd } }

    private func reportFirstFailure(_ error: any Error) {
        report("could not write \(url.path): \(error.localizedDescription); records that fail to write are dropped and counted, further failures are not logged")
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
