/// The element type of a tensor, independent of any wire encoding.
public enum ElementType: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case float32, float64, int32, int64, uint8, uint64

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .float64, .int64, .uint64: 8
        case .uint8: 1
        }
    }
}
