// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "1d5d5bb9ff7cc2e5a7370a5ac5ecbb387a120245c7aac6642bf4633c21a930ac"
