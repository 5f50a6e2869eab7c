/// What an environment accepts as an action.
public enum ActionSpace: Sendable, Equatable, Hashable, Codable {
    /// One of `n` actions, sent as an int32 index in `0..<n`.
    case discrete(Int)
    /// A float32 vector of `dimensions` components; the environment clips to `low...high`.
    case continuous(dimensions: Int, low: Float, high: Float)

    /// Discrete action count, 0 for a continuous space.
    public var actionCount: Int {
        if case .discrete(let n) = self { return n }
        return 0
    }

    /// The shape of one action: `[]` for a discrete index, `[d]` for a continuous vector.
    public var shape: [Int] {
        switch self {
        case .discrete: []
        case .continuous(let d, _, _): [d]
        }
    }

    /// The element type actions travel as.
    public var elementType: ElementType {
        switch self {
        case .discrete: .int32
        case .continuous: .float32
        }
    }
}
