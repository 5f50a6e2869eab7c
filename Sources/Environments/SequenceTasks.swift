import Domain

/// A verifiable-reward sequence task (the seed paper's setting in miniature): a finite prompt
/// set, an answer of exactly `answerLength` tokens from a vocabulary of `vocabulary`, and an
/// exact-match 0/1 verifier.
///
/// The policy sees, at answer position t, the encoding `[prompt | previous tokens | position]`:
/// - prompt: one one-hot block per prompt slot (`promptSizes[j]` wide);
/// - previous tokens: `answerLength` one-hot blocks of `vocabulary`, blocks 0..<t filled with
///   the tokens chosen so far, the current and future blocks zero;
/// - position: a one-hot of `answerLength` (all zero after the last token).
/// docs/protocol.md §8 gives this layout for foreign workers.
public protocol SequenceTaskDefinition: Sendable {
    static var id: String { get }
    /// Width of each prompt slot's one-hot block.
    static var promptSizes: [Int] { get }
    static var answerLength: Int { get }
    static var vocabulary: Int { get }
    static var promptCount: Int { get }
    /// The tokens of prompt `index` (one per slot), `0 ..< promptCount`.
    static func prompt(_ index: Int) -> [Int]
    /// The one correct answer of a prompt (exact match).
    static func isCorrect(prompt: [Int], answer: [Int]) -> Bool
    /// A short human description (docs and `--help`).
    static var summary: String { get }
}

extension SequenceTaskDefinition {
    /// The environment that runs this task.
    public static var environmentType: any Environment.Type { SequenceEnvironment<Self>.self }

    public static var observationSize: Int { promptSizes.reduce(0, +) + answerLength * vocabulary + answerLength }

    /// The policy input at answer position `position` (== `answer.count` while sampling;
    /// `answerLength` for the observation after the last token).
    public static func encode(prompt: [Int], answer: [Int], position: Int, into out: inout [Float], at offset: Int) {
        var o = offset
        for (slot, token) in prompt.enumerated() {
            out[o + token] = 1
            o += promptSizes[slot]
        }
        for (j, token) in answer.prefix(position).enumerated() { out[o + j * vocabulary + token] = 1 }
        o += answerLength * vocabulary
        if position < answerLength { out[o + position] = 1 }
    }

    public static func encode(prompt: [Int], answer: [Int], position: Int) -> [Float] {
        var out = [Float](repeating: 0, count: observationSize)
        encode(prompt: prompt, answer: answer, position: position, into: &out, at: 0)
        return out
    }

    /// A stable name of a prompt (chunks' `prompt_id`): "addrev:37".
    public static func promptID(_ index: Int) -> String { "\(id):\(index)" }

    /// The success rate of the uniformly random policy: the fraction of the vocabulary^L
    /// answers that are correct, averaged over prompts (exact: every task has one correct answer
    /// per prompt, except `reach`, which is enumerated).
    public static var randomSuccessRate: Double {
        var total = 0.0
        let space = (0..<answerLength).reduce(1) { r, _ in r * vocabulary }
        if space <= 4096, promptCount <= 1024 {
            for p in 0..<promptCount {
                let prompt = prompt(p)
                var correct = 0
                for code in 0..<space {
                    var answer: [Int] = [], c = code
                    for _ in 0..<answerLength { answer.append(c % vocabulary); c /= vocabulary }
                    if isCorrect(prompt: prompt, answer: answer) { correct += 1 }
                }
                total += Double(correct) / Double(space)
            }
            return total / Double(promptCount)
        }
        return 1 / Double(space)  // one correct answer per prompt
    }
}

/// `addrev`: a + b for digits a, b (100 prompts), the sum written units digit first as two
/// digits ("7 + 8" → 5, 1; "3 + 4" → 7, 0). Random success 1 %.
public enum AddReversed: SequenceTaskDefinition {
    public static let id = "addrev"
    public static let promptSizes = [10, 10]
    public static let answerLength = 2
    public static let vocabulary = 10
    public static let promptCount = 100
    public static func prompt(_ index: Int) -> [Int] { [index / 10, index % 10] }
    public static func isCorrect(prompt: [Int], answer: [Int]) -> Bool {
        let s = prompt[0] + prompt[1]
        return answer == [s % 10, s / 10]
    }
    public static let summary = "a + b for digits a, b (100 prompts), two answer digits, units first"
}

/// `add`: as `addrev`, tens digit first ("7 + 8" → 1, 5; "3 + 4" → 0, 7). Random success 1 %.
public enum AddDigits: SequenceTaskDefinition {
    public static let id = "add"
    public static let promptSizes = [10, 10]
    public static let answerLength = 2
    public static let vocabulary = 10
    public static let promptCount = 100
    public static func prompt(_ index: Int) -> [Int] { [index / 10, index % 10] }
    public static func isCorrect(prompt: [Int], answer: [Int]) -> Bool {
        let s = prompt[0] + prompt[1]
        return answer == [s / 10, s % 10]
    }
    public static let summary = "a + b for digits a, b (100 prompts), two answer digits, tens first"
}

/// `add3`: a + b for a, b in 0–999 (10⁶ prompts, each number as three digit slots), the sum as
/// four digits, most significant first. Random success 0.01 %.
public enum AddThreeDigits: SequenceTaskDefinition {
    public static let id = "add3"
    public static let promptSizes = [Int](repeating: 10, count: 6)
    public static let answerLength = 4
    public static let vocabulary = 10
    public static let promptCount = 1_000_000
    public static func prompt(_ index: Int) -> [Int] {
        let a = index / 1000, b = index % 1000
        return [a / 100, a / 10 % 10, a % 10, b / 100, b / 10 % 10, b % 10]
    }
    public static func isCorrect(prompt: [Int], answer: [Int]) -> Bool {
        let a = prompt[0] * 100 + prompt[1] * 10 + prompt[2], b = prompt[3] * 100 + prompt[4] * 10 + prompt[5]
        let s = a + b
        return answer == [s / 1000, s / 100 % 10, s / 10 % 10, s % 10]
    }
    public static let summary = "a + b for a, b in 0-999, four answer digits, most significant first"
}

/// `reach`: from a start in 0–9 to a target in 0–63 with exactly four operations from
/// {+1, ×2, −1} (tokens 0, 1, 2), over the reachable (start, target) pairs only. Any sequence
/// that lands on the target is correct.
public enum Reach: SequenceTaskDefinition {
    public static let id = "reach"
    public static let promptSizes = [10, 64]
    public static let answerLength = 4
    public static let vocabulary = 3
    static let pairs: [[Int]] = {
        var out: [[Int]] = []
        for start in 0..<10 {
            var ends = Set<Int>()
            for code in 0..<81 {
                var c = code, answer: [Int] = []
                for _ in 0..<4 { answer.append(c % 3); c /= 3 }
                ends.insert(apply(start, answer))
            }
            for target in 0..<64 where ends.contains(target) { out.append([start, target]) }
        }
        return out
    }()
    public static var promptCount: Int { pairs.count }
    public static func prompt(_ index: Int) -> [Int] { pairs[index] }
    static func apply(_ start: Int, _ ops: [Int]) -> Int {
        ops.reduce(start) { v, op in op == 0 ? v + 1 : op == 1 ? v * 2 : v - 1 }
    }
    public static func isCorrect(prompt: [Int], answer: [Int]) -> Bool { apply(prompt[0], answer) == prompt[1] }
    public static let summary = "reach a target in 0-63 from a start in 0-9 with four ops from {+1, x2, -1}"
}

/// A sequence task as an environment: one episode is one answer. Reset draws a prompt
/// uniformly; each step appends a token; the last step is terminal and pays 1 when the answer
/// is correct, else 0. (Group-relative training samples K answers per prompt with the
/// rollout's grouped sampler instead of independent resets.)
public struct SequenceEnvironment<Task: SequenceTaskDefinition>: Environment {
    public static var id: String { Task.id }
    public static var observationSize: Int { Task.observationSize }
    public static var actionSpace: ActionSpace { .discrete(Task.vocabulary) }
    public static var maxEpisodeSteps: Int { Task.answerLength }
    /// A success rate of 0.9 over the last 100 answers.
    public static var rewardThreshold: Double { 0.9 }

    public private(set) var promptIndex = 0
    public private(set) var answer: [Int] = []

    public init() {}

    public mutating func reset(using rng: inout SplitMix64) -> [Float] {
        promptIndex = Int(rng.next() % UInt64(Task.promptCount))
        answer = []
        return Task.encode(prompt: Task.prompt(promptIndex), answer: [], position: 0)
    }

    public mutating func stepDynamics(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool) {
        let token = min(Task.vocabulary - 1, max(0, Int(action[0])))
        answer.append(token)
        let prompt = Task.prompt(promptIndex)
        let done = answer.count >= Task.answerLength
        let reward = done && Task.isCorrect(prompt: prompt, answer: answer) ? 1.0 : 0.0
        return (Task.encode(prompt: prompt, answer: answer, position: answer.count), reward, done)
    }

    public var state: [Double] {
        get { [Double(promptIndex)] + answer.map(Double.init) }
        set {
            promptIndex = Int(newValue.first ?? 0)
            answer = newValue.dropFirst().map { Int($0) }
        }
    }
}
