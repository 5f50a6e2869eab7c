/// Why an incoming message was refused.
///
/// Errors are a struct with a nested `Code` (as swift-service-lifecycle's
/// `ServiceGroupError`), so adding a code breaks nobody. Every code maps onto
/// the wire's `Reject.Code` and onto a counter name.
public struct ProtocolError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// Each code's raw value is its counter / status-map key: snake_case, stable.
        fileprivate enum Base: String, Hashable, Sendable, CaseIterable {
            case malformed, unknownType = "unknown_type", oversize, unsupportedVersion = "unsupported_version"
            case unknownWorker = "unknown_worker", shapeMismatch = "shape_mismatch", noCredit = "no_credit"
            case wrongRun = "wrong_run", badSequence = "bad_sequence", envMismatch = "env_mismatch"
            case shuttingDown = "shutting_down", nonFinite = "non_finite", actionOutOfRange = "action_out_of_range"
            case badVersion = "bad_version", badEpisode = "bad_episode", fieldTooLong = "field_too_long"
            case learnerFull = "learner_full", unauthorized
        }
        fileprivate let base: Base

        public static let malformed = Code(base: .malformed)
        public static let unknownType = Code(base: .unknownType)
        public static let oversize = Code(base: .oversize)
        public static let unsupportedVersion = Code(base: .unsupportedVersion)
        public static let unknownWorker = Code(base: .unknownWorker)
        public static let shapeMismatch = Code(base: .shapeMismatch)
        public static let noCredit = Code(base: .noCredit)
        public static let wrongRun = Code(base: .wrongRun)
        public static let badSequence = Code(base: .badSequence)
        public static let envMismatch = Code(base: .envMismatch)
        public static let shuttingDown = Code(base: .shuttingDown)
        public static let nonFinite = Code(base: .nonFinite)
        public static let actionOutOfRange = Code(base: .actionOutOfRange)
        public static let badVersion = Code(base: .badVersion)
        public static let badEpisode = Code(base: .badEpisode)
        public static let fieldTooLong = Code(base: .fieldTooLong)
        public static let learnerFull = Code(base: .learnerFull)
        public static let unauthorized = Code(base: .unauthorized)

        public static var all: [Code] { Base.allCases.map { Code(base: $0) } }

        /// The counter / status-map key: snake_case, stable.
        public var name: String { base.rawValue }

        public var description: String { name }

        public var wire: Tributary_V1_Reject.Code {
            switch base {
            case .malformed: .malformed
            case .unknownType: .unknownType
            case .oversize: .oversize
            case .unsupportedVersion: .unsupportedVersion
            case .unknownWorker: .unknownWorker
            case .shapeMismatch: .shapeMismatch
            case .noCredit: .noCredit
            case .wrongRun: .wrongRun
            case .badSequence: .badSequence
            case .envMismatch: .envMismatch
            case .shuttingDown: .shuttingDown
            case .nonFinite: .nonFinite
            case .actionOutOfRange: .actionOutOfRange
            case .badVersion: .badVersion
            case .badEpisode: .badEpisode
            case .fieldTooLong: .fieldTooLong
            case .learnerFull: .learnerFull
            case .unauthorized: .unauthorized
            }
        }

        public init?(wire: Tributary_V1_Reject.Code) {
            guard let match = Base.allCases.first(where: { Code(base: $0).wire == wire }) else { return nil }
            self.base = match
        }

        fileprivate init(base: Base) { self.base = base }
    }

    public var code: Code
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.name): \(reason)" }
}
