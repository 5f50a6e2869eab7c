import Foundation
import Protocol
import SwiftProtobuf

/// A protobuf message inside a Codable event, written in Tributary's JSON mapping of it
/// (`WireJSON`: the same object `tributary status --json` prints) and read back with
/// SwiftProtobuf's JSON decoder.
@propertyWrapper
public struct WireJSONValue<M: SwiftProtobuf.Message & Equatable>: Codable, Sendable, Equatable {
    public var wrappedValue: M
    public init(wrappedValue: M) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Swift.Decoder) throws {
        let tree = try JSONValue(from: decoder)
        let data = try JSONEncoder().encode(tree)
        do {
            wrappedValue = try M(jsonUTF8Data: data, options: WireJSON.decodingOptions)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a \(M.protoMessageName): \(error)"))
        }
    }

    public func encode(to encoder: any Swift.Encoder) throws {
        let data = try wrappedValue.jsonUTF8Data(options: WireJSON.encodingOptions)
        try JSONDecoder().decode(JSONValue.self, from: data).encode(to: encoder)
    }
}

/// Any JSON value, to carry a JSON document through Codable unchanged. Integers stay
/// integers (64-bit counters are not rounded through Double).
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let v = try? c.decode(Bool.self) { self = .bool(v); return }
        if let v = try? c.decode(Int64.self) { self = .int(v); return }
        if let v = try? c.decode(UInt64.self) { self = .uint(v); return }
        if let v = try? c.decode(Double.self) { self = .double(v); return }
        if let v = try? c.decode(String.self) { self = .string(v); return }
        if let v = try? c.decode([JSONValue].self) { self = .array(v); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    public func encode(to encoder: any Swift.Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let v): try c.encode(v)
        case .int(let v): try c.encode(v)
        case .uint(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .array(let v): try c.encode(v)
        case .object(let v): try c.encode(v)
        }
    }
}
