/// The largest strings and lists a peer's message may carry (docs/protocol.md §10). Longer
/// ones are refused with `CODE_FIELD_TOO_LONG` before anything is stored or logged, so a peer
/// cannot make the learner keep, print or serve its megabytes.
public enum FieldLimits {
    /// Bytes (UTF-8) of `Hello.worker_id` and `TrajectoryChunk.worker_id`.
    public static let workerID = 128
    /// Bytes of `Hello.host`.
    public static let host = 255
    /// Bytes of `Hello.software_version`.
    public static let softwareVersion = 64
    /// Bytes of an environment id (`EnvSpec.env_id`, `TrajectoryChunk.env_id`).
    public static let envID = 128
    /// Bytes of `TrajectoryChunk.run_id`.
    public static let runID = 128
    /// Bytes of `TrajectoryChunk.prompt_id`.
    public static let promptID = 256
    /// Bytes of `Goodbye.reason`.
    public static let goodbyeReason = 256
    /// Entries of `Hello.capabilities`, and bytes of each.
    public static let capabilities = 32
    public static let capability = 64
    /// Entries of `Hello.protocol_versions`.
    public static let protocolVersions = 16
    /// Dimensions of a declared observation or action shape.
    public static let rank = 8

    /// Throws `CODE_FIELD_TOO_LONG` naming the field when `value` has more than `limit` bytes.
    public static func check(_ value: String, _ limit: Int, _ field: String) throws(ProtocolError) {
        let bytes = value.utf8.count
        if bytes > limit {
            throw ProtocolError(.fieldTooLong, "\(field) has \(bytes) bytes, the limit is \(limit)")
        }
    }

    /// Throws `CODE_FIELD_TOO_LONG` when a list has more than `limit` entries.
    public static func check(count: Int, _ limit: Int, _ field: String) throws(ProtocolError) {
        if count > limit {
            throw ProtocolError(.fieldTooLong, "\(field) has \(count) entries, the limit is \(limit)")
        }
    }
}
