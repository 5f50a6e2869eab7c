// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "29e28cae15a3a1a9b938c7cab11afb946c2f8d6b918556a424bd699ec7e834fd"
