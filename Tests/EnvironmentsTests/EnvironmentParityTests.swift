import Domain
import Foundation
import Environments
import Testing

/// gymnasium parity: fixtures written by scripts/env_fixtures.py (gymnasium's exact start
/// states, fixed actions, every observation, reward and flag of a full episode) replayed here.
@Suite struct EnvironmentParityTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var seed: Int
            var start_state: [Double]
            var actions: [Action]
            var observations: [[Double]]
            var rewards: [Double]
            var terminated: [Bool]
            var truncated: [Bool]
        }
        var env_id: String
        var cases: [Case]
    }

    /// A discrete action (an integer) or a continuous one (a list of floats).
    enum Action: Decodable {
        case discrete(Int)
        case continuous([Float])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { self = .discrete(i) } else { self = .continuous(try c.decode([Float].self)) }
        }
        var values: [Float] {
            switch self {
            case .discrete(let i): [Float(i)]
            case .continuous(let v): v
            }
        }
    }

    static func load(_ id: String) throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(id).json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func replay<E: Environment>(_: E.Type) throws {
        let fixture = try Self.load(E.id)
        #expect(fixture.env_id == E.id)
        for c in fixture.cases {
            var env = TimeLimited<E>()
            env.env.state = c.start_state
            for (t, action) in c.actions.enumerated() {
                let step = env.step(action.values)
                for (got, want) in zip(step.observation, c.observations[t]) {
                    #expect(abs(Double(got) - want) < 1e-5, "\(E.id) seed \(c.seed) step \(t): observation \(step.observation) vs \(c.observations[t])")
                }
                #expect(abs(step.reward - c.rewards[t]) < 1e-5, "\(E.id) seed \(c.seed) step \(t): reward")
                #expect(step.terminated == c.terminated[t], "\(E.id) seed \(c.seed) step \(t): terminated")
                #expect(step.truncated == c.truncated[t], "\(E.id) seed \(c.seed) step \(t): truncated")
            }
        }
    }

    @Test func cartPoleMatchesGymnasium() throws { try replay(CartPole.self) }
    @Test func acrobotMatchesGymnasium() throws { try replay(Acrobot.self) }
    @Test func mountainCarMatchesGymnasium() throws { try replay(MountainCar.self) }
    @Test func pendulumMatchesGymnasium() throws { try replay(Pendulum.self) }

    @Test func fixturesCoverTerminationAndTruncation() throws {
        let all = try [CartPole.id, Acrobot.id, MountainCar.id, Pendulum.id].map(Self.load)
        let cases = all.flatMap(\.cases)
        #expect(cases.contains { $0.terminated.last == true })
        #expect(cases.contains { $0.truncated.last == true && $0.rewards.count == 500 })
        #expect(cases.contains { $0.truncated.last == true && $0.rewards.count == 200 })
    }

    /// Start states follow gymnasium's reset distributions.
    @Test func resetDistributions() {
        var rng = SplitMix64(seed: 4)
        var cart = CartPole()
        var car = MountainCar()
        var pendulum = Pendulum()
        var acrobot = Acrobot()
        for _ in 0..<2000 {
            _ = acrobot.reset(using: &rng)
            #expect(acrobot.state.allSatisfy { abs($0) <= 0.1 })
            _ = cart.reset(using: &rng)
            #expect(cart.state.allSatisfy { abs($0) <= 0.05 })
            _ = car.reset(using: &rng)
            #expect(car.state[0] >= -0.6 && car.state[0] <= -0.4 && car.state[1] == 0)
            _ = pendulum.reset(using: &rng)
            #expect(abs(pendulum.state[0]) <= Double.pi && abs(pendulum.state[1]) <= 1)
        }
    }
}
