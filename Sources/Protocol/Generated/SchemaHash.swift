// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "70162e225813c78fa46e96d7b75aa50097a24b0c7646363e05f3e2f2beb61604"
