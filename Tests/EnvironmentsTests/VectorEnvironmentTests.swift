import Domain
import Environments
import Testing

@Suite struct VectorEnvironmentTests {
    @Test func copiesResetThemselvesAndKeepTheFinalObservation() {
        var envs = VectorEnvironment<CartPole>(count: 3, seed: 1)
        #expect(envs.observations.count == 3 * 4)
        var finished: [VectorEnvironment<CartPole>.Episode] = []
        var sawFinal = false
        for _ in 0..<200 {
            let step = envs.step([[1], [1], [0]])  // always pushing: episodes end fast
            for e in step.episodes {
                let final = step.finalObservations[e.env]
                #expect(final != nil)
                // The episode ended out of bounds; the copy's new observation is a fresh start.
                #expect(abs(final![0]) > 2.4 || abs(final![2]) > Float(12 * 2 * Double.pi / 360))
                #expect(step.observations[(e.env * 4)..<(e.env * 4 + 4)].allSatisfy { abs($0) <= 0.05 })
                #expect(e.terminated && e.episodeReturn == Double(e.length))
                sawFinal = true
            }
            finished += step.episodes
        }
        #expect(sawFinal)
        #expect(finished.count > 10)
    }

    @Test func timeLimitTruncates() {
        var envs = VectorEnvironment<Pendulum>(count: 2, seed: 3)
        var truncatedAt: [Int] = []
        for t in 1...400 {
            let step = envs.step([[0], [1]])
            #expect(!step.terminated.contains(true))
            if step.truncated.contains(true) {
                #expect(step.truncated == [true, true])
                #expect(step.finalObservations.count == 2)
                truncatedAt.append(t)
            }
        }
        #expect(truncatedAt == [200, 400])
    }

    @Test func sameSeedSameTrajectory() {
        var a = VectorEnvironment<Acrobot>(count: 2, seed: 9)
        var b = VectorEnvironment<Acrobot>(count: 2, seed: 9)
        for t in 0..<50 {
            let actions: [[Float]] = [[Float(t % 3)], [Float((t + 1) % 3)]]
            #expect(a.step(actions).observations == b.step(actions).observations)
        }
    }
}
