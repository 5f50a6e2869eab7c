#!/usr/bin/env bash
# Regenerates the committed code of the project's two .proto files:
#   Sources/Protocol/tributary.proto             -> Sources/Protocol/Generated/ (Swift) and
#                                                   python/tributary_worker/_proto/ (Python)
#   Sources/TensorBoard/tensorboard_event.proto  -> Sources/TensorBoard/Generated/
#
# Needs protoc (apt: protobuf-compiler) and builds swift-protobuf's protoc-gen-swift
# (the version Package.swift pins) into .build-protoc/ the first time (~1.5 min); set
# PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift to use one already built (same version).
# The generated code is committed; ProtocolTests and TensorBoardTests fail when a .proto's
# SHA-256 recorded in its Generated/SchemaHash.swift no longer matches the .proto.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
plugin="${PROTOC_GEN_SWIFT:-}"
if [ -z "$plugin" ]; then
  swift build -c release --product protoc-gen-swift --scratch-path .build-protoc >&2
  plugin="$(swift build -c release --scratch-path .build-protoc --show-bin-path)/protoc-gen-swift"
fi

# generate <target dir> <proto file name> <Swift constant holding its SHA-256>
generate() {
  local dir="$1" proto="$2" constant="$3"
  local out="$dir/Generated"
  mkdir -p "$out"
  protoc --plugin=protoc-gen-swift="$plugin" \
         --swift_opt=Visibility=Public \
         --swift_out="$out" \
         -I "$dir" "$dir/$proto"
  local hash
  hash=$(sha256sum "$dir/$proto" | cut -d' ' -f1)
  cat > "$out/SchemaHash.swift" <<SWIFT
// DO NOT EDIT. Written by scripts/generate-protos.sh together with ${proto%.proto}.pb.swift.
/// SHA-256 of the $proto that the generated code was made from.
public let $constant = "$hash"
SWIFT
  echo "regenerated $out (proto sha256 $hash)"
}

generate Sources/Protocol tributary.proto tributaryProtoSHA256
generate Sources/TensorBoard tensorboard_event.proto tensorboardEventProtoSHA256

# The Python SDK's copy (python/tributary_worker/_proto): protoc's Python output, importable as
# a package, with the schema's SHA-256 beside it (python/tests check it against the .proto).
py_out=python/tributary_worker/_proto
mkdir -p "$py_out"
protoc --python_out="$py_out" -I Sources/Protocol Sources/Protocol/tributary.proto
hash=$(sha256sum Sources/Protocol/tributary.proto | cut -d' ' -f1)
cat > "$py_out/__init__.py" <<PY
# DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary_pb2.py
# (protoc $(protoc --version | cut -d' ' -f2)).
"""The messages of Sources/Protocol/tributary.proto (package tributary.v1)."""
from . import tributary_pb2 as pb

# SHA-256 of the tributary.proto the code was generated from.
SCHEMA_SHA256 = "$hash"
PY
echo "regenerated $py_out (proto sha256 $hash)"
