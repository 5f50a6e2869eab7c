// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "65ef33589799db40e4af3859657b4ef301aa80e149dc3d39700430fcde2ea3fb"
