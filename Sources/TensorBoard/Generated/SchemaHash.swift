// DO NOT EDIT. Written by scripts/generate-protos.sh together with tensorboard_event.pb.swift.
/// SHA-256 of the tensorboard_event.proto that the generated code was made from.
public let tensorboardEventProtoSHA256 = "35d75b8e9ad244d02de50e1a406b785e8959840ed5a14a5f4f3b4aabf92dfac0"
