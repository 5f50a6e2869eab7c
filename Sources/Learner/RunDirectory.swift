import Domain
import Foundation
import Protocol
import SafeIO
import SwiftProtobuf
import TensorBoard

/// A training run's files: `config.json` (the resolved configuration, with the endpoints
/// bound), `config.yaml` (the settings as a config file that repeats the run), `metrics.jsonl` (one
/// JSON object per logged update), `events.out.tfevents.*` (the same updates as TensorBoard
/// scalars, step = env steps; finished episodes; the settings as text), and at the end `final_parameters.bin` (float32 little-endian,
/// as `Weights` carries them) with `model.json` (its ModelSpec).
public final class RunDirectory: Sendable {
    public let url: URL
    /// metrics.jsonl: a full disk is a counted failure, never a crash.
    public let metrics: AppendOnlyFile
    /// The TensorBoard event file, beside metrics.jsonl.
    public let events: EventFileWriter

    /// With `resuming`, metrics.jsonl is appended to rather than started over (a resumed run's
    /// TensorBoard events go to a new file in the same directory, which TensorBoard merges).
    /// `files`: more files to write beside config.json (name → contents).
    public init(root: String, runID: String, config: [String: Any], resuming: Bool = false, files: [String: Data] = [:],
                onError: @escaping @Sendable (String) -> Void = { StandardStream.error.write(($0 + "\n")) }) throws {
        url = URL(fileURLWithPath: root).appendingPathComponent(runID)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url.appendingPathComponent("config.json"))
        for (name, contents) in files { try contents.write(to: url.appendingPathComponent(name)) }
        metrics = try AppendOnlyFile(path: url.appendingPathComponent("metrics.jsonl").path, truncate: !resuming, onError: onError)
        events = try EventFileWriter(directory: url, onError: onError)
        events.text("hyperparameters", Self.markdownTable(config))
    }

    /// `|setting|value|` rows, sorted, as CleanRL's `hyperparameters` text (nested values as
    /// JSON; `|` escaped).
    static func markdownTable(_ config: [String: Any]) -> String {
        func cell(_ value: Any) -> String {
            let text: String
            if JSONSerialization.isValidJSONObject(value), let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) {
                text = String(decoding: data, as: UTF8.self)
            } else {
                text = "\(value)"
            }
            return text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
        }
        let rows = config.keys.sorted().map { "|\(cell($0))|\(cell(jsonSafe(config[$0]!)))|" }
        return (["|setting|value|", "|-|-|"] + rows).joined(separator: "\n")
    }

    /// Why a run directory under `root` could not be made: the first part of the path that is
    /// not a directory, or the system's reason for the first one that cannot be created.
    public static func why(_ root: String, _ error: any Error) -> String {
        // Only looks: the first component that is missing is reported against its parent, which
        // must let us create it; nothing is created here.
        var path = root.hasPrefix("/") ? "" : "."
        for part in root.split(separator: "/") {
            let parent = path.isEmpty ? "/" : path
            path += "/\(part)"
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                if access(parent, W_OK | X_OK) != 0 { return "\(parent): \(String(cString: strerror(errno)))" }
                break
            }
            if !isDirectory.boolValue { return "\(path) is not a directory" }
        }
        if FileManager.default.fileExists(atPath: path), access(path, W_OK) != 0 { return "\(path): \(String(cString: strerror(errno)))" }
        return (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }

    /// One logged update: a line of metrics.jsonl and an event of TensorBoard scalars at step
    /// `envSteps`, both from the same values.
    public func log(_ update: UpdateMetrics) {
        log(update.json)
        events.scalars(update.scalars, step: Int64(clamping: update.envSteps))
    }

    /// Appends one line to metrics.jsonl. JSON has no NaN or infinity: such a value is written
    /// as null rather than losing the line.
    public func log(_ values: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: Self.jsonSafe(values), options: [.sortedKeys]) else { return }
        metrics.append(data + Data("\n".utf8))
    }

    static func jsonSafe(_ value: Any) -> Any {
        switch value {
        case let d as Double: d.isFinite ? d : NSNull()
        case let f as Float: f.isFinite ? f : NSNull()
        case let dict as [String: Any]: dict.mapValues(jsonSafe)
        case let array as [Any]: array.map(jsonSafe)
        default: value
        }
    }

    /// The run's checkpoints.
    public func checkpoints(keep: Int) -> CheckpointDirectory { CheckpointDirectory(run: url, keep: keep) }

    public func writeFinal(model: ModelSpec, parameters: [UInt8]) throws {
        events.flush()
        try Data(parameters).write(to: url.appendingPathComponent("final_parameters.bin"))
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        try Data(try model.wire.jsonString(options: options).utf8).write(to: url.appendingPathComponent("model.json"))
    }

    deinit {
        metrics.close()
        events.close()
    }
}
