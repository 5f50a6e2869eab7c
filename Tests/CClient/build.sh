#!/usr/bin/env bash
# Builds the C client of the Tributary wire protocol.
#
#   Tests/CClient/build.sh OUTDIR
#
# Generates protobuf-c code from Sources/Protocol/tributary.proto into OUTDIR
# (never into the repository) and compiles OUTDIR/tributary-c-client.
# Needs: protoc-c, libprotobuf-c, libzmq
#   (Debian/Ubuntu: apt-get install protobuf-c-compiler libprotobuf-c-dev libzmq3-dev)
#
# protoc-c 1.4.x does not support proto3 `optional` fields, so the schema is
# compiled from a copy in OUTDIR in which each `optional T name = N;` becomes
# `oneof name_present { T name = N; }`. That is how protobuf itself represents
# proto3 optional (a one-field "synthetic" oneof): the wire encoding is the same
# and presence is kept (the C code reads `<name>_present_case`).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
proto="$root/Sources/Protocol/tributary.proto"
src="$here/tributary_client.c"
cc="${CC:-cc}"

die() { echo "build.sh: $*" >&2; exit 1; }

command -v protoc-c >/dev/null 2>&1 \
    || die "protoc-c not found (install protobuf-c-compiler; also libprotobuf-c-dev libzmq3-dev)"
command -v "$cc" >/dev/null 2>&1 || die "C compiler '$cc' not found"
[ -f "$proto" ] || die "schema not found: $proto"
[ -f "$src" ] || die "source not found: $src"

mkdir -p "$1" || die "cannot create $1"
out="$(cd "$1" && pwd)"
case "$out/" in
    "$root"/.build*/*) ;;  # git-ignored build folders are fine
    "$root"/*) die "OUTDIR must be outside the repository or under a git-ignored .build* folder ($root)" ;;
esac
gen="$out/gen"
rm -rf "$gen"
mkdir -p "$gen"

# Schema copy with proto3 `optional` fields rewritten as one-field oneofs.
sed -E 's/^([[:space:]]*)optional[[:space:]]+([A-Za-z0-9_.]+)[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*([0-9]+)[[:space:]]*;/\1oneof \3_present { \2 \3 = \4; }/' \
    "$proto" > "$gen/tributary.proto"
if grep -Eq '^[[:space:]]*optional[[:space:]]' "$gen/tributary.proto"; then
    die "tributary.proto has an 'optional' field this script cannot rewrite"
fi

protoc-c --proto_path="$gen" --c_out="$gen" "$gen/tributary.proto" \
    || die "protoc-c failed"

# shellcheck disable=SC2086
"$cc" -std=c11 -O2 -Wall -Wextra -Werror ${CFLAGS:-} \
    -I"$gen" \
    -o "$out/tributary-c-client" \
    "$src" "$gen/tributary.pb-c.c" \
    -lzmq -lprotobuf-c \
    || die "compilation failed"

echo "built $out/tributary-c-client"
