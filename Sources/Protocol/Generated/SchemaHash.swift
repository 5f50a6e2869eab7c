// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "215255838aa0cd2ead2a81372372f4ad3dc310838f031c86073abc64b416abd3"
