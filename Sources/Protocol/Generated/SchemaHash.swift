// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "ba95e4e30e93e0582b68397a1512659460c2adac2c5dd38278ed5c9d1d92b906"
