// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "712095d51057ea2a19d51af1c025cfbaef8bc0643bb7d1bac56a3f44371c9ca1"
