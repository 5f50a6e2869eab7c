// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "61f71eb525ff59448d881ab1fcbf9826ab5a3b6a77064095b388e6d01ebbfae3"
