// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "72a34accd39d841d35c7c62d7b96892978337dbcec686f0eec3d221a69f54d8e"
