#!/usr/bin/env bash
# Builds the release binaries with the Swift runtime linked in (--static-swift-stdlib) and packs
# them with their runtime notes, the deploy files and the docs into
#   dist/tributary-<git describe>-linux-<arch>.tar.gz
# and prints that path. `make dist` runs it; `make install PREFIX=…` installs what it built.
# The binaries need only the Debian packages named in the tarball's README (no Swift toolchain):
# scripts/test-dist.sh checks that in a mount namespace that hides the toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${DIST_SCRATCH:-.build-dist}
products=(learner rollout-worker tributary)
for p in "${products[@]}"; do
  swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$p" >&2
done
bin=$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)
version=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
name="tributary-$version-linux-$(uname -m)"
stage="dist/$name"
rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/share/tributary" "$stage/share/doc/tributary"
for p in "${products[@]}"; do
  install -m 0755 "$bin/$p" "$stage/bin/$p"
  strip --strip-unneeded "$stage/bin/$p"
done
cp -r deploy "$stage/share/tributary/deploy"
cp README.md docs/*.md "$stage/share/doc/tributary/"
cp scripts/load-policy.py "$stage/share/tributary/"

# The shared libraries the binaries need, and the Debian packages that provide them.
libs=$(for p in "${products[@]}"; do readelf -d "$stage/bin/$p" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done | sort -u)
packages=$(for l in $libs; do
  path=$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64|x86_64|AArch64|aarch64/ { print $NF; exit }')
  [ -n "$path" ] && dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1
done | sort -u)
cat > "$stage/README" <<README
Tributary $version ($(uname -m), Linux): learner, rollout-worker and tributary.

The Swift runtime is linked into the binaries: no Swift toolchain is needed. On Debian 12 (or a
derivative) the binaries need these packages and nothing else:

    apt-get install $(echo $packages | tr '\n' ' ')

(the shared libraries they load: $(echo $libs | tr '\n' ' ')).

Install: copy bin/* to a directory on PATH (or: make install PREFIX=/usr/local from a checkout).
Check:   bin/learner --version
Run:     docs in share/doc/tributary (README.md, operations.md, deployment.md, security.md);
         systemd units, Slurm and Kubernetes files in share/tributary/deploy.

OpenBLAS: Debian's library misdetects some AVX-512 CPUs and runs ~4x slower; the learner and
worker set OPENBLAS_CORETYPE themselves unless it is already set (docs/benchmarks.md).
README
tar -C dist -czf "dist/$name.tar.gz" "$name"
echo "dist/$name.tar.gz"
