#if canImport(Glibc)
import Glibc
#endif
import NeuralNet

/// CartPole-v1 (gymnasium 1.x, Euler integrator): push left (0) or right (1); reward 1 per
/// step including the terminating one; terminated when |x| > 2.4 or |θ| > 12°; 500 steps.
public struct CartPole: Environment {
    public static let id = "CartPole-v1"
    public static let observationSize = 4
    public static let actionSpace = ActionSpace.discrete(2)
    public static let maxEpisodeSteps = 500

    static let gravity = 9.8, massCart = 1.0, massPole = 0.1, length = 0.5, forceMag = 10.0, tau = 0.02
    static let totalMass = massPole + massCart
    static let poleMassLength = massPole * length
    static let thetaThreshold = 12 * 2 * Double.pi / 360
    static let xThreshold = 2.4

    public var state: [Double] = [0, 0, 0, 0]
    public init() {}

    public mutating func reset(using rng: inout SplitMix64) -> [Float] {
        state = (0..<4).map { _ in rng.nextUnit() * 0.1 - 0.05 }
        return state.map(Float.init)
    }

    public mutating func stepDynamics(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool) {
        var (x, xDot, theta, thetaDot) = (state[0], state[1], state[2], state[3])
        let force = action[0] == 1 ? Self.forceMag : -Self.forceMag
        let cosTheta = cos(theta)
        let sinTheta = sin(theta)
        let temp = (force + Self.poleMassLength * thetaDot * thetaDot * sinTheta) / Self.totalMass
        let thetaAcc = (Self.gravity * sinTheta - cosTheta * temp)
            / (Self.length * (4.0 / 3.0 - Self.massPole * cosTheta * cosTheta / Self.totalMass))
        let xAcc = temp - Self.poleMassLength * thetaAcc * cosTheta / Self.totalMass
        x += Self.tau * xDot
        xDot += Self.tau * xAcc
        theta += Self.tau * thetaDot
        thetaDot += Self.tau * thetaAcc
        state = [x, xDot, theta, thetaDot]
        let terminated = x < -Self.xThreshold || x > Self.xThreshold || theta < -Self.thetaThreshold || theta > Self.thetaThreshold
        return (state.map(Float.init), 1.0, terminated)
    }
}

/// MountainCar-v0: push left (0), none (1) or right (2); reward −1 per step; terminated at
/// position ≥ 0.5; 200 steps.
public struct MountainCar: Environment {
    public static let id = "MountainCar-v0"
    public static let observationSize = 2
    public static let actionSpace = ActionSpace.discrete(3)
    public static let maxEpisodeSteps = 200

    static let minPosition = -1.2, maxPosition = 0.6, maxSpeed = 0.07, goalPosition = 0.5
    static let force = 0.001, gravity = 0.0025

    public var state: [Double] = [0, 0]
    public init() {}

    public mutating func reset(using rng: inout SplitMix64) -> [Float] {
        state = [rng.nextUnit() * 0.2 - 0.6, 0]
        return state.map(Float.init)
    }

    public mutating func stepDynamics(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool) {
        var (position, velocity) = (state[0], state[1])
        velocity += (Double(action[0]) - 1) * Self.force + cos(3 * position) * -Self.gravity
        velocity = min(max(velocity, -Self.maxSpeed), Self.maxSpeed)
        position += velocity
        position = min(max(position, Self.minPosition), Self.maxPosition)
        if position == Self.minPosition && velocity < 0 { velocity = 0 }
        state = [position, velocity]
        return (state.map(Float.init), -1.0, position >= Self.goalPosition && velocity >= 0)
    }
}

/// Pendulum-v1: torque in [−2, 2]; reward −(θ² + 0.1 θ̇² + 0.001 u²) with θ normalised to
/// [−π, π); never terminates; 200 steps. Observation (cos θ, sin θ, θ̇).
public struct Pendulum: Environment {
    public static let id = "Pendulum-v1"
    public static let observationSize = 3
    public static let actionSpace = ActionSpace.continuous(dimensions: 1, low: -2, high: 2)
    public static let maxEpisodeSteps = 200

    static let maxSpeed = 8.0, maxTorque: Float = 2.0, dt = 0.05, g = 10.0, m = 1.0, l = 1.0

    public var state: [Double] = [0, 0]
    public init() {}

    var observation: [Float] { [Float(cos(state[0])), Float(sin(state[0])), Float(state[1])] }

    public mutating func reset(using rng: inout SplitMix64) -> [Float] {
        state = [(rng.nextUnit() * 2 - 1) * Double.pi, rng.nextUnit() * 2 - 1]
        return observation
    }

    /// ((x + π) mod 2π) − π with Python's floor modulo.
    static func normalize(_ x: Double) -> Double {
        let period = 2 * Double.pi
        let y = x + Double.pi
        return y - period * (y / period).rounded(.down) - Double.pi
    }

    public mutating func stepDynamics(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool) {
        let (th, thDot) = (state[0], state[1])
        // gymnasium clips the float32 action and keeps float32 in the u terms (NumPy 2 promotion).
        let u = min(max(action[0], -Self.maxTorque), Self.maxTorque)
        let uSquared = Double(Float(0.001) * (u * u))
        let costs = Self.normalize(th) * Self.normalize(th) + 0.1 * thDot * thDot + uSquared
        var newThDot = thDot + (3 * Self.g / (2 * Self.l) * sin(th) + Double(Float(3.0 / (Self.m * Self.l * Self.l)) * u)) * Self.dt
        newThDot = min(max(newThDot, -Self.maxSpeed), Self.maxSpeed)
        state = [th + newThDot * Self.dt, newThDot]
        return (observation, -costs, false)
    }
}
