import SwiftProtobuf

/// How Tributary prints its messages as JSON (`tributary status --json`, the learner's
/// summary event): protobuf's canonical JSON mapping with the .proto field names
/// (`chunks_accepted`, not `chunksAccepted`) and 64-bit integers as JSON numbers rather than
/// strings, so `jq '.updates + 1'` works. Every reader decodes it with `decodingOptions`
/// (SwiftProtobuf's decoder accepts both number forms), ignoring fields a newer learner adds.
public enum WireJSON {
    public static var encodingOptions: JSONEncodingOptions {
        var options = JSONEncodingOptions()
        options.alwaysPrintInt64sAsNumbers = true
        options.preserveProtoFieldNames = true
        return options
    }

    public static var decodingOptions: JSONDecodingOptions {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        return options
    }

    public static func string(_ message: some SwiftProtobuf.Message) throws -> String {
        try message.jsonString(options: encodingOptions)
    }

    public static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, from json: String) throws -> M {
        try M(jsonString: json, options: decodingOptions)
    }
}
