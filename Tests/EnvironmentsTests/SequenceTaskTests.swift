import Domain
@testable import Environments
import Testing

@Suite struct SequenceTaskTests {
    @Test func addrevEncodingAndVerifier() {
        // 7 + 8 = 15: units first → (5, 1). Layout [a | b | token 0 | token 1 | position].
        let p = AddReversed.prompt(78)
        #expect(p == [7, 8])
        #expect(AddReversed.isCorrect(prompt: p, answer: [5, 1]))
        #expect(!AddReversed.isCorrect(prompt: p, answer: [1, 5]))
        #expect(AddDigits.isCorrect(prompt: p, answer: [1, 5]))
        #expect(AddReversed.isCorrect(prompt: [3, 4], answer: [7, 0]))
        #expect(AddReversed.observationSize == 42)
        let x = AddReversed.encode(prompt: p, answer: [5], position: 1)
        let hot = x.indices.filter { x[$0] == 1 }
        #expect(hot == [7, 10 + 8, 20 + 5, 40 + 1])
        #expect(x.reduce(0, +) == 4)
        // After the last token: both tokens, no position.
        let end = AddReversed.encode(prompt: p, answer: [5, 1], position: 2)
        #expect(end.indices.filter { end[$0] == 1 } == [7, 18, 25, 31])
    }

    @Test func add3AndReach() {
        let i = 123 * 1000 + 989
        #expect(AddThreeDigits.prompt(i) == [1, 2, 3, 9, 8, 9])
        #expect(AddThreeDigits.isCorrect(prompt: AddThreeDigits.prompt(i), answer: [1, 1, 1, 2]))
        #expect(AddThreeDigits.observationSize == 60 + 40 + 4)
        // reach: 3 → ×2 → +1 → ×2 → −1 = 13.
        #expect(Reach.apply(3, [1, 0, 1, 2]) == 13)
        #expect(Reach.isCorrect(prompt: [3, 13], answer: [1, 0, 1, 2]))
        #expect(Reach.pairs.allSatisfy { $0[1] < 64 && $0[0] < 10 })
        #expect(Set(Reach.pairs.map { "\($0)" }).count == Reach.promptCount)
        #expect(Reach.observationSize == 74 + 12 + 4)
    }

    /// The random policy's success rates docs/sequence-tasks.md quotes.
    @Test func randomSuccessRates() {
        #expect(abs(AddReversed.randomSuccessRate - 0.01) < 1e-12)
        #expect(abs(AddDigits.randomSuccessRate - 0.01) < 1e-12)
        #expect(abs(AddThreeDigits.randomSuccessRate - 1e-4) < 1e-12)
        #expect(Reach.randomSuccessRate > 1.0 / 81 && Reach.randomSuccessRate < 0.2)
    }

    /// As an environment: an episode is one answer, terminal at its last token, paying 1 for a
    /// correct answer; the registry knows every task.
    @Test func episodesAreAnswers() throws {
        for task in EnvironmentRegistry.sequenceTasks {
            let spec = try #require(EnvironmentRegistry.spec(task.id))
            #expect(spec.observationShape == [task.observationSize])
            #expect(EnvironmentRegistry.maxReturn(task.id) == 1)
        }
        var env = TimeLimited<SequenceEnvironment<AddReversed>>()
        var rng = SplitMix64(seed: 1)
        _ = env.reset(using: &rng)
        let prompt = AddReversed.prompt(env.env.promptIndex)
        let s = prompt[0] + prompt[1]
        let first = env.step([Float(s % 10)])
        #expect(!first.terminated && first.reward == 0)
        let last = env.step([Float(s / 10)])
        #expect(last.terminated && !last.truncated && last.reward == 1)
    }
}
