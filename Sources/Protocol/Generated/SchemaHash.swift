// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "414b2a8706edb8bbdcea8c0ad1f44fcfb7655215d3ee25121f71ff3296afb043"
