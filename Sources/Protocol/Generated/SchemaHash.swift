// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "beb02ffea9167330f5903368428861178e69edc963e3b5f9ce84384813c25868"
