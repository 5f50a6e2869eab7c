#if canImport(Glibc)
import Glibc
#endif
import Domain

/// CartPole-v1 (gymnasium 1.x, Euler integrator): push left (0) or right (1); reward 1 per
/// step including the terminating one; terminated when |x| > 2.4 or |θ| > 12°; 500 steps.
public struct CartPole: Environment {
    public static let id = "CartPole-v1"
    public static let observationSize = 4
    public static let actionSpace = ActionSpace.discrete(2)
    public static let maxEpisodeSteps = 500
    public static let rewardThreshold: Double = 475

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
    public static let rewardThreshold: Double = -110

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
    public static let rewardThreshold: Double = -200

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

/// Acrobot-v1 ("book" dynamics, RK4 over dt = 0.2, no torque noise): torque −1, 0 or +1 on the
/// second joint; reward −1 per step, 0 on the terminating one; terminated when the tip is one
/// link length above the base; 500 steps. Observation (cos θ1, sin θ1, cos θ2, sin θ2, θ̇1, θ̇2).
public struct Acrobot: Environment {
    public static let id = "Acrobot-v1"
    public static let observationSize = 6
    public static let actionSpace = ActionSpace.discrete(3)
    public static let maxEpisodeSteps = 500
    public static let rewardThreshold: Double = -100

    static let dt = 0.2, m1 = 1.0, m2 = 1.0, l1 = 1.0, lc1 = 0.5, lc2 = 0.5, moi = 1.0, g = 9.8
    static let maxVel1 = 4 * Double.pi, maxVel2 = 9 * Double.pi
    static let torques: [Double] = [-1, 0, 1]

    public var state: [Double] = [0, 0, 0, 0]
    public init() {}

    var observation: [Float] {
        [Float(cos(state[0])), Float(sin(state[0])), Float(cos(state[1])), Float(sin(state[1])), Float(state[2]), Float(state[3])]
    }

    public mutating func reset(using rng: inout SplitMix64) -> [Float] {
        // gymnasium draws float64 and stores float32.
        state = (0..<4).map { _ in Double(Float(rng.nextUnit() * 0.2 - 0.1)) }
        return observation
    }

    static func derivatives(_ s: [Double], torque a: Double) -> [Double] {
        let (theta1, theta2, dtheta1, dtheta2) = (s[0], s[1], s[2], s[3])
        let d1 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * cos(theta2)) + moi + moi
        let d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos(theta2)) + moi
        let phi2 = m2 * lc2 * g * cos(theta1 + theta2 - Double.pi / 2.0)
        let phi1 = -m2 * l1 * lc2 * dtheta2 * dtheta2 * sin(theta2)
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * cos(theta1 - Double.pi / 2)
            + phi2
        let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1 * dtheta1 * sin(theta2) - phi2)
            / (m2 * lc2 * lc2 + moi - d2 * d2 / d1)
        let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return [dtheta1, dtheta2, ddtheta1, ddtheta2]
    }

    static func wrap(_ x: Double, _ low: Double, _ high: Double) -> Double {
        var x = x
        let diff = high - low
        while x > high { x -= diff }
        while x < low { x += diff }
        return x
    }

    public mutating func stepDynamics(_ action: [Float]) -> (observation: [Float], reward: Double, terminated: Bool) {
        let torque = Self.torques[Int(action[0])]
        // One RK4 step over [0, dt], as gymnasium's rk4(derivs, s, [0, dt]).
        func add(_ y: [Double], _ k: [Double], _ h: Double) -> [Double] { (0..<4).map { y[$0] + h * k[$0] } }
        let h = Self.dt
        let k1 = Self.derivatives(state, torque: torque)
        let k2 = Self.derivatives(add(state, k1, h / 2), torque: torque)
        let k3 = Self.derivatives(add(state, k2, h / 2), torque: torque)
        let k4 = Self.derivatives(add(state, k3, h), torque: torque)
        var ns = (0..<4).map { state[$0] + h / 6.0 * (k1[$0] + 2 * k2[$0] + 2 * k3[$0] + k4[$0]) }
        ns[0] = Self.wrap(ns[0], -Double.pi, Double.pi)
        ns[1] = Self.wrap(ns[1], -Double.pi, Double.pi)
        ns[2] = min(max(ns[2], -Self.maxVel1), Self.maxVel1)
        ns[3] = min(max(ns[3], -Self.maxVel2), Self.maxVel2)
        state = ns
        let terminated = -cos(ns[0]) - cos(ns[1] + ns[0]) > 1.0
        return (observation, terminated ? 0.0 : -1.0, terminated)
    }
}
