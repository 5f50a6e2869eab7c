// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "8288f9db52ff5d2e4349183ced223cb34069fa7be7a17fe8bf8896b3f5c2fc00"
