import Experience
import Foundation
import PolicyArtifacts
import Protocol
import SafeIO
import Training

/// What a learner needs to continue a run after it stopped, however it stopped: the trainer's
/// whole state (parameters, Adam's moments, the version, the shuffle's random state, APPO's
/// target network), the run id, the progress counters and the buffer's accounting, and the
/// resolved configuration it ran with.
///
/// On disk (`RUN_DIR/checkpoints/checkpoint-<updates>.ckpt`), format 1:
///
///     TRIBUTARY-CHECKPOINT 1\n
///     sha256 <64 hex digits of the body>\n
///     <body: this struct as JSON; float arrays as base64 of their little-endian bytes>
///
/// Written to a temporary file, fsynced, renamed into place and the directory fsynced, so a
/// crash leaves the previous checkpoint or the new one, never half of one.
public struct Checkpoint: Sendable, Equatable, Codable {
    public static let format = 1

    public var runID: String
    /// When it was written (Unix seconds).
    public var unixTime: Double
    public var trainer: TrainerState
    public var updates: UInt64
    public var episodes: UInt64
    public var counters: LearnerCore.Counters
    public var accounting: BufferAccounting
    public var config: LearnerConfig
    /// How the policy did when evaluated (`--eval-seconds`); set on `best.ckpt`.
    public var evaluation: PolicyEvaluation?

    public init(runID: String, unixTime: Double = Date().timeIntervalSince1970, trainer: TrainerState, updates: UInt64,
                episodes: UInt64, counters: LearnerCore.Counters, accounting: BufferAccounting, config: LearnerConfig) {
        self.runID = runID
        self.unixTime = unixTime
        self.trainer = trainer
        self.updates = updates
        self.episodes = episodes
        self.counters = counters
        self.accounting = accounting
        self.config = config
    }

    public var policyVersion: UInt64 { trainer.version }

    /// The file's bytes.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = try encoder.encode(self)
        let digest = WeightsDigest.sha256(body).map { String(format: "%02x", $0) }.joined()
        return Data("TRIBUTARY-CHECKPOINT \(Self.format)\nsha256 \(digest)\n".utf8) + body
    }

    /// Reads a checkpoint file's bytes; a one-line reason when they are not a whole, intact
    /// checkpoint of a format this build reads.
    public static func decode(_ data: Data, name: String) throws(CheckpointError) -> Checkpoint {
        let bytes = [UInt8](data)
        guard let first = bytes.firstIndex(of: 0x0A), let second = bytes[(first + 1)...].firstIndex(of: 0x0A) else {
            throw CheckpointError("\(name): not a Tributary checkpoint (no header; truncated?)")
        }
        let magic = String(decoding: bytes[..<first], as: UTF8.self)
        guard magic.hasPrefix("TRIBUTARY-CHECKPOINT ") else { throw CheckpointError("\(name): not a Tributary checkpoint") }
        guard magic == "TRIBUTARY-CHECKPOINT \(format)" else {
            throw CheckpointError("\(name): checkpoint format \(magic.dropFirst(21)), this build reads format \(format)")
        }
        let digestLine = String(decoding: bytes[(first + 1)..<second], as: UTF8.self)
        let body = Data(bytes[(second + 1)...])
        let digest = WeightsDigest.sha256(body).map { String(format: "%02x", $0) }.joined()
        guard digestLine == "sha256 \(digest)" else {
            throw CheckpointError("\(name): digest mismatch (\(body.count) bytes of body; truncated or corrupt)")
        }
        do {
            return try JSONDecoder().decode(Checkpoint.self, from: body)
        } catch {
            throw CheckpointError("\(name): intact but unreadable: \(error)")
        }
    }
}

extension Checkpoint {
    /// A checkpoint file, or a run directory's newest intact checkpoint (with `best`, its
    /// `checkpoints/best.ckpt`, the best by evaluated return): what `tributary eval` and
    /// `tributary export` read.
    public static func load(_ path: String, best: Bool = false) throws(CheckpointError) -> (checkpoint: Checkpoint, url: URL) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CheckpointError("\(path): no such file or directory") }
        let file: URL
        if isDirectory.boolValue {
            let directory = CheckpointDirectory(run: URL(fileURLWithPath: path))
            if !best {
                let latest = try directory.latest()
                return (latest.checkpoint, latest.url)
            }
            file = directory.bestFile
        } else {
            file = URL(fileURLWithPath: path)
        }
        guard let data = try? Data(contentsOf: file) else {
            throw CheckpointError(best ? "\(file.path): no best checkpoint (the learner writes one when it evaluates: --eval-seconds)" : "\(file.path): unreadable")
        }
        return (try decode(data, name: file.path), file)
    }
}

public struct CheckpointError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The checkpoints of one run directory: written atomically, the newest `keep` kept, and read
/// back newest first, skipping (and saying why) any that is corrupt or truncated.
public struct CheckpointDirectory: Sendable {
    public let url: URL
    public let keep: Int

    public init(run: URL, keep: Int = 3) {
        url = run.appendingPathComponent("checkpoints")
        self.keep = max(1, keep)
    }

    static func name(updates: UInt64) -> String { String(format: "checkpoint-%012llu.ckpt", updates) }

    /// Checkpoint files, newest (most updates) first.
    public func files() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".ckpt") }.sorted(by: >).map { url.appendingPathComponent($0) }
    }

    /// The best checkpoint by evaluated return (`--eval-seconds`), beside the rotating ones and
    /// never pruned or resumed from by itself.
    public var bestFile: URL { url.appendingPathComponent("best.ckpt") }

    /// Writes `checkpoint` as the best one, atomically.
    public func writeBest(_ checkpoint: Checkpoint) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try Self.writeAtomically(try checkpoint.encoded(), to: bestFile)
    }

    /// Writes `checkpoint` atomically and removes all but the newest `keep`; the file's URL.
    @discardableResult
    public func write(_ checkpoint: Checkpoint) throws -> URL {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let final = url.appendingPathComponent(Self.name(updates: checkpoint.updates))
        try Self.writeAtomically(try checkpoint.encoded(), to: final)
        for old in files().dropFirst(keep) { try? FileManager.default.removeItem(at: old) }
        return final
    }

    /// Temporary file, fsync, rename, fsync of the directory.
    static func writeAtomically(_ data: Data, to final: URL) throws {
        let url = final.deletingLastPathComponent()
        let temporary = url.appendingPathComponent(".tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CheckpointError("\(temporary.path): \(String(cString: strerror(errno)))") }
        var failure = data.withUnsafeBytes { writeAll(fd, $0).error }
        if failure == nil, fsync(fd) != 0 { failure = errno }
        close(fd)
        if let failure {
            unlink(temporary.path)
            throw CheckpointError("\(final.path): \(String(cString: strerror(failure)))")
        }
        guard rename(temporary.path, final.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw CheckpointError("\(final.path): \(reason)")
        }
        let dir = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    /// Appends one line to `evaluations.jsonl`: when, the policy's version and its returns.
    public func recordEvaluation(_ checkpoint: Checkpoint, best: Bool) {
        guard let e = checkpoint.evaluation else { return }
        let line: [String: Any] = [
            "unix_time": checkpoint.unixTime, "updates": checkpoint.updates, "policy_version": checkpoint.policyVersion,
            "mean_return": e.meanReturn, "std_return": e.stdReturn, "mean_length": e.meanLength, "episodes": e.episodes.count,
            "greedy": e.greedy, "best": best,
        ]
        guard var data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) else { return }
        data.append(0x0A)
        let fd = open(url.appendingPathComponent("evaluations.jsonl").path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = data.withUnsafeBytes { writeAll(fd, $0) }
        close(fd)
    }

    /// Versions are handed out in blocks: before publishing a version above the reservation,
    /// the trainer records a new one here (a small file, renamed into place). A resumed learner
    /// starts above it, so a version the crashed learner published is never reused for other
    /// weights, however long after its last checkpoint it died.
    var reservationFile: URL { url.appendingPathComponent("versions-reserved") }

    public func reservedVersion() -> UInt64? {
        (try? String(contentsOf: reservationFile, encoding: .utf8)).flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    public func reserve(upTo version: UInt64) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let temporary = url.appendingPathComponent(".versions-\(getpid())")
        try Data("\(version)\n".utf8).write(to: temporary)
        guard rename(temporary.path, reservationFile.path) == 0 else {
            throw CheckpointError("\(reservationFile.path): \(String(cString: strerror(errno)))")
        }
    }

    /// The newest checkpoint that reads back whole, and a one-line reason for each newer one
    /// that did not. Throws when there is none.
    public func latest() throws(CheckpointError) -> (checkpoint: Checkpoint, url: URL, refused: [String]) {
        var refused: [String] = []
        for file in files() {
            guard let data = try? Data(contentsOf: file) else {
                refused.append("\(file.lastPathComponent): unreadable")
                continue
            }
            do {
                return (try Checkpoint.decode(data, name: file.lastPathComponent), file, refused)
            } catch {
                refused.append(error.description)
            }
        }
        let why = refused.isEmpty ? "no checkpoint in \(url.path)" : "no usable checkpoint in \(url.path): \(refused.joined(separator: "; "))"
        throw CheckpointError(why)
    }
}
