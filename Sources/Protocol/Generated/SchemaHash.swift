// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "7d7b90979b11d3f93c9bc9c121d9483d561d9cd1dfe541d88a514990244b001c"
