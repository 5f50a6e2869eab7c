# Sourced by the deploy tests: the checks and installs they all start with.
#   need_binaries learner rollout-worker ...   TRIBUTARY_BIN_DIR holds them, executable; sets $bin
#   need_root WHY                              root, or exit 2 saying why it is needed
#   need_commands "PKG ..." CMD ...            apt-get install PKG when a CMD is missing
# Messages name the calling script ($me).
me="$(basename "$0")"

need_binaries() {
    : "${TRIBUTARY_BIN_DIR:?set TRIBUTARY_BIN_DIR to the directory holding the release learner, rollout-worker and tributary (e.g. the output of make dist)}"
    bin="$(cd "$TRIBUTARY_BIN_DIR" && pwd)"
    local b
    for b in "$@"; do
        [[ -x "$bin/$b" ]] || { echo "$me: $bin/$b is missing or not executable (TRIBUTARY_BIN_DIR)" >&2; exit 2; }
    done
}

need_root() {
    [[ $(id -u) -eq 0 ]] || { echo "$me: run as root ($1)" >&2; exit 2; }
}

need_commands() {
    local packages="$1" c
    shift
    for c in "$@"; do
        if ! command -v "$c" >/dev/null; then
            echo "$me: installing $packages"
            # shellcheck disable=SC2086
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages >/dev/null 2>&1 \
                || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages >/dev/null; }
            return
        fi
    done
}
