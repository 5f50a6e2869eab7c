#!/usr/bin/env bash
# Regenerates Sources/Protocol/Generated/ from Sources/Protocol/tributary.proto.
#
# Needs protoc (apt: protobuf-compiler) and builds swift-protobuf's protoc-gen-swift
# (the version Package.swift pins) into .build-protoc/ the first time (~1.5 min).
# The generated code is committed; ProtocolTests fails when the .proto's SHA-256
# recorded in Generated/SchemaHash.swift no longer matches the .proto.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
swift build -c release --product protoc-gen-swift --scratch-path .build-protoc >&2
plugin="$(swift build -c release --scratch-path .build-protoc --show-bin-path)/protoc-gen-swift"
out=Sources/Protocol/Generated
mkdir -p "$out"
protoc --plugin=protoc-gen-swift="$plugin" \
       --swift_opt=Visibility=Public \
       --swift_out="$out" \
       -I Sources/Protocol Sources/Protocol/tributary.proto
hash=$(sha256sum Sources/Protocol/tributary.proto | cut -d' ' -f1)
cat > "$out/SchemaHash.swift" <<SWIFT
// DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary.pb.swift.
/// SHA-256 of the tributary.proto that the generated code was made from.
public let tributaryProtoSHA256 = "$hash"
SWIFT
echo "regenerated $out (proto sha256 $hash)"
