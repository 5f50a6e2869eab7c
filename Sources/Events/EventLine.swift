import Foundation

/// One line a Tributary executable prints on stdout: a JSON object whose `"event"` key names
/// it. Scripts (`jq`), `tributary demo` and the tests read these lines; the writers and every
/// Swift reader share the structs of this module, so a renamed field breaks the build, not a
/// reader at run time.
public protocol EventRecord: Codable, Sendable {
    /// The value of `"event"`.
    static var name: String { get }
}

/// Encoding and decoding of event lines.
public enum EventLine {
    /// One JSON object, keys sorted, no newline.
    public static func encode<E: EventRecord>(_ event: E) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings and finite numbers cannot fail; a non-finite Double
        // would, and is written as null by `Finite` where one can occur.
        guard let data = try? encoder.encode(Envelope(event: event)) else {
            return #"{"event":"\#(E.name)","error":"unencodable"}"#
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The line's `"event"` value, nil for anything that is not an event object.
    public static func name(of line: String) -> String? {
        try? JSONDecoder().decode(NameOnly.self, from: Data(line.utf8)).event
    }

    /// The event if `line` is one of type `E`; nil for other events and other lines.
    public static func decode<E: EventRecord>(_ type: E.Type, from line: String) -> E? {
        guard name(of: line) == E.name else { return nil }
        return try? JSONDecoder().decode(Envelope<E>.self, from: Data(line.utf8)).event
    }

    /// Like `decode`, but says why a line named `E.name` does not decode.
    public static func decodeOrThrow<E: EventRecord>(_ type: E.Type, from line: String) throws -> E {
        try JSONDecoder().decode(Envelope<E>.self, from: Data(line.utf8)).event
    }

    private struct NameOnly: Decodable { var event: String }

    /// The event's own fields plus `"event": name`, in one object.
    private struct Envelope<E: EventRecord>: Codable {
        var event: E
        private enum Key: String, CodingKey { case event }

        init(event: E) { self.event = event }

        init(from decoder: any Decoder) throws {
            let name = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .event)
            guard name == E.name else {
                throw DecodingError.dataCorrupted(.init(codingPath: [Key.event], debugDescription: "event \(name), not \(E.name)"))
            }
            event = try E(from: decoder)
        }

        func encode(to encoder: any Encoder) throws {
            try event.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(E.name, forKey: .event)
        }
    }
}

/// A Double written as JSON null when it is not finite (JSON has no NaN or infinity).
@propertyWrapper
public struct Finite: Codable, Sendable, Equatable {
    public var wrappedValue: Double
    public init(wrappedValue: Double) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? .nan : try container.decode(Double.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if wrappedValue.isFinite { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}
