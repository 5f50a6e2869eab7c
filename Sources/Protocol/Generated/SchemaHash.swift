// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "dceae1bbb5a457a464352fb1946454d700f2ec5817ef243a482bc6d9508a3f15"
