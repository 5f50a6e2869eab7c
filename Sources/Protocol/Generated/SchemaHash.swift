// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "99c2ae3d50d2a506acf324d6bac11cd3565845016d7d3e59e50f5337d15d0d3e"
