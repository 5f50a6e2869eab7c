import ArgumentParser
import Corrections
import Domain
import Logging
import NeuralNet
import Training

// The enums a flag takes, parsed by ArgumentParser itself: a wrong value is refused with the
// list of valid ones, and `--help` shows them.
extension Correction: ExpressibleByArgument {}
extension VTrace.AdvantageForm: ExpressibleByArgument {}
extension TruncatedIS.Level: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LossAggregation: ExpressibleByArgument {}
extension KL.Estimator: ExpressibleByArgument {}
extension GroupMethod.Centre: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}
extension TrainerSettings.Optimizer: ExpressibleByArgument {}

/// The batch order a flag names (`--order`); newest-first takes its k from `--priority-k`.
public enum BufferOrder: String, CaseIterable, Sendable, ExpressibleByArgument {
    case fifo
    case newestFirst = "newest-first"
}

/// A number, or a word that turns the setting off (`--eta unbounded`, `--max-lag none`,
/// `--dual-clip off`): any of off, none and unbounded is accepted, and help shows the word the
/// flag documents.
public struct Limit<Value: LosslessStringConvertible & Sendable>: ExpressibleByArgument, Sendable {
    public var value: Value?
    /// The word shown for nil in help.
    public var word: String

    public init(_ value: Value?, off word: String) {
        self.value = value
        self.word = word
    }

    public init?(argument: String) {
        if ["off", "none", "unbounded"].contains(argument) {
            self.init(nil, off: argument)
        } else if let v = Value(argument) {
            self.init(v, off: "off")
        } else {
            return nil
        }
    }

    public var defaultValueDescription: String { value.map { "\($0)" } ?? word }
}

/// `--action-space`: `discrete:N` or `box:D`. A box's bounds are the environment's business
/// (its workers clip what they step it with; docs/protocol.md §8), so they are not declared.
public struct ActionSpaceArgument: ExpressibleByArgument, Sendable {
    public var space: ActionSpace

    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, let n = Int(parts[1]) else { return nil }
        switch parts[0] {
        case "discrete": space = .discrete(n)
        case "box": space = .continuous(dimensions: n, low: -.greatestFiniteMagnitude, high: .greatestFiniteMagnitude)  // finite: checkpoints hold it as JSON
        default: return nil
        }
    }
}
