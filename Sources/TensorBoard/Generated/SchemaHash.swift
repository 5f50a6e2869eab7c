// DO NOT EDIT. Written by scripts/generate-protos.sh together with tensorboard_event.pb.swift.
/// SHA-256 of the tensorboard_event.proto that the generated code was made from.
public let tensorboardEventProtoSHA256 = "5974224676ba2c9592d80ba537397bcabe15d7e96b21bca85d23ee8a4fd16d2a"
