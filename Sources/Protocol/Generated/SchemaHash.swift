// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "ead2ed0193d8401594b2cca1aba185a800ee8d490a342f37d6f107bdf6369d17"
