#!/usr/bin/env bash
# Tests deploy/kubernetes without a cluster (docs/deployment.md, "How each is tested"):
#   1. every manifest against the OpenAPI schemas of Kubernetes $K8S_VERSION (1.30 by default) in
#      strict mode (unknown fields are errors), with kubernetes-validate in .venv-deploy (made with
#      `pip install kubernetes-validate==$KV_VERSION` when missing);
#   2. what a schema cannot see: the Services select the learner's pods and name ports it has; the
#      probes hit /healthz on the metrics port and the config binds /metrics beyond loopback; every
#      path the containers are given (TRIBUTARY_CONFIG, allow-keys, the key files) is on a mounted
#      volume and every key file comes from a Secret key that exists; and every key of the
#      ConfigMap's learner.yaml and worker.yaml is a flag of $TRIBUTARY_BIN_DIR/learner or
#      rollout-worker.
# Usage: TRIBUTARY_BIN_DIR=/path/to/release/bin deploy/test/kubernetes.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$here/common.sh"
need_binaries learner rollout-worker   # their --help lists the flags the config may use
K8S_VERSION="${K8S_VERSION:-1.30}"
KV_VERSION="${KV_VERSION:-1.37.0}"
venv="${DEPLOY_VENV:-$repo/.venv-deploy}"
start=$(date +%s.%N)

if [[ ! -x "$venv/bin/kubernetes-validate" ]] || [[ "$("$venv/bin/kubernetes-validate" --version 2>/dev/null)" != *"$KV_VERSION"* ]]; then
    echo "kubernetes.sh: making $venv with kubernetes-validate==$KV_VERSION"
    python3 -m venv "$venv" || { apt-get install -y -q python3-venv >/dev/null && python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KV_VERSION"
fi
run_checks() {
manifests=("${K8S_MANIFEST_DIR:-$repo/deploy/kubernetes}"/*.yaml)
echo "== kubernetes-validate $("$venv/bin/kubernetes-validate" --version) --strict --kubernetes-version $K8S_VERSION"
failed=0
if ! out="$("$venv/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION" "${manifests[@]}" 2>&1)"; then
    failed=1
fi
sed 's/^/  /' <<<"$out"
# kubernetes-validate exits 0 on warnings (e.g. an unknown kind): only "passed" lines count.
resources=$(grep -c ' passed for resource ' <<<"$out" || true)
if grep -vq ' passed for resource ' <<<"$out"; then failed=1; fi
echo "  $resources resources passed"

echo "== consistency of the manifests with each other and with the binaries"
"$bin/learner" --help >"$venv/learner.help" 2>&1 || true
"$bin/rollout-worker" --help >"$venv/worker.help" 2>&1 || true
consistency_py="$(cat <<'EOF'
import posixpath, re, sys, yaml

learner_help, worker_help, files = sys.argv[1], sys.argv[2], sys.argv[3:]
docs = [d for f in files for d in yaml.safe_load_all(open(f)) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
results = {"passed": 0, "failed": 0}

def check(ok, what, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))

def flags(path):
    return set(re.findall(r"--([a-z][a-z0-9-]*)", open(path).read()))

cm = by_kind["ConfigMap"]["tributary-config"]["data"]
configs = {"learner.yaml": yaml.safe_load(cm["learner.yaml"]), "worker.yaml": yaml.safe_load(cm["worker.yaml"])}
for name, helpfile in (("learner.yaml", learner_help), ("worker.yaml", worker_help)):
    known = flags(helpfile)
    unknown = sorted(k for k in configs[name] if k not in known)
    check(not unknown, f"every key of the ConfigMap's {name} is a flag of the binary", f"unknown: {unknown}")
lc = configs["learner.yaml"]
check(lc.get("metrics-bind") not in (None, "127.0.0.1", "localhost", "::1"),
      "learner.yaml binds /metrics beyond loopback, so the kubelet's probes reach /healthz", str(lc.get("metrics-bind")))
check("target-return" not in lc and "max-updates" not in lc,
      "learner.yaml sets no stopping rule (a learner that stops would be restarted as a new run)")

def pods():
    for kind in ("StatefulSet", "Deployment"):
        for name, d in by_kind.get(kind, {}).items():
            yield f"{kind}/{name}", d

for ref, d in pods():
    spec = d["spec"]["template"]["spec"]
    labels = d["spec"]["template"]["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in d["spec"]["selector"]["matchLabels"].items()),
          f"{ref}: its selector matches its pods' labels")
    check(spec.get("enableServiceLinks") is False,
          f"{ref}: enableServiceLinks is false (no TRIBUTARY_LEARNER_PORT... variables, which would read as settings)")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    claims = {c["metadata"]["name"] for c in d["spec"].get("volumeClaimTemplates", [])}
    for c in spec.get("initContainers", []) + spec["containers"]:
        cref = f"{ref} container {c['name']}"
        mounts = c.get("volumeMounts", [])
        missing = [m["name"] for m in mounts if m["name"] not in volumes and m["name"] not in claims]
        check(not missing, f"{cref}: every mount names a volume", str(missing))

        def source_of(path):
            """The volume (and the file in it) a path in this container comes from."""
            best = None
            for m in mounts:
                mp = m["mountPath"].rstrip("/")
                if path == mp or path.startswith(mp + "/"):
                    if best is None or len(mp) > len(best[0]["mountPath"].rstrip("/")):
                        best = (m, path[len(mp):].lstrip("/"))
            return best

        def file_exists(path, writer_mounts=()):
            src = source_of(path)
            if src is None:
                return False, "not on any mounted volume"
            m, rel = src
            v = volumes.get(m["name"])
            if v is None:
                return True, ""  # a PersistentVolumeClaim: written at run time
            if "configMap" in v:
                cmd = by_kind["ConfigMap"][v["configMap"]["name"]]["data"]
                items = {i["path"]: i["key"] for i in v["configMap"].get("items", [])} or {k: k for k in cmd}
                return (rel in items and items[rel] in cmd) if rel else True, f"{rel} not in ConfigMap {v['configMap']['name']}"
            if "secret" in v:
                sec = by_kind["Secret"][v["secret"]["secretName"]]
                keys = set(sec.get("stringData", {})) | set(sec.get("data", {}))
                return (rel in keys) if rel else True, f"{rel} not in Secret {v['secret']['secretName']}"
            if "emptyDir" in v:
                return rel in writer_mounts, f"{path}: nothing writes it into the emptyDir {m['name']}"
            return False, "unknown volume type"

        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        if "TRIBUTARY_CONFIG" in env:
            ok, why = file_exists(env["TRIBUTARY_CONFIG"])
            check(ok, f"{cref}: TRIBUTARY_CONFIG={env['TRIBUTARY_CONFIG']} is mounted from the ConfigMap", why)
            cfg = configs[posixpath.basename(env["TRIBUTARY_CONFIG"])]
            if "allow-keys" in cfg:
                ok, why = file_exists(cfg["allow-keys"])
                check(ok and source_of(cfg["allow-keys"])[1] == "", f"{cref}: allow-keys {cfg['allow-keys']} is a mounted directory", why)
        # Files the init container writes into the emptyDir, by their name there.
        written = set()
        for ic in spec.get("initContainers", []):
            for target in re.findall(r"install -m 0[0-7]{3} \S+ (\S+)", " ".join(ic.get("command", []))):
                written.add(posixpath.basename(target))
            for src in re.findall(r"install -m 0[0-7]{3} (\S+) \S+", " ".join(ic.get("command", []))):
                if c is ic:
                    ok, why = file_exists(src)
                    check(ok, f"{cref}: copies {src}, which its Secret has", why)
            secret_modes = re.findall(r"install -m (0[0-7]{3}) \S+ (\S+key_secret)", " ".join(ic.get("command", [])))
            if c is ic:
                check(all(m in ("0600", "0400") for m, _ in secret_modes), f"{cref}: secret keys land with mode 0600", str(secret_modes))
        args = c.get("args", [])
        for flag in ("--curve-secret-key", "--curve-server-key"):
            if flag in args:
                path = args[args.index(flag) + 1]
                ok, why = file_exists(path, written)
                check(ok, f"{cref}: {flag} {path} is written by the init container", why)
        ports = {p["name"] for p in c.get("ports", [])}
        if c["name"] == "learner":
            check("readinessProbe" in c and "livenessProbe" in c, f"{cref}: has a readiness and a liveness probe")
        for probe in ("readinessProbe", "livenessProbe"):
            if probe in c:
                g = c[probe].get("httpGet", {})
                check(g.get("path") == "/healthz" and g.get("port") in ports and g.get("port") == "metrics",
                      f"{cref}: {probe} is GET /healthz on the metrics port", str(g))
        r = c.get("resources", {})
        check("requests" in r and "limits" in r and "memory" in r.get("limits", {}),
              f"{cref}: has resource requests and a memory limit", str(r))

learners = {n: d for n, d in by_kind.get("StatefulSet", {}).items()}
for name, svc in by_kind.get("Service", {}).items():
    sel = svc["spec"]["selector"]
    matched = [n for n, d in learners.items() if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())]
    check(bool(matched), f"Service/{name} selects the learner's pods")
    for n in matched:
        cports = {p["name"]: p["containerPort"] for c in learners[n]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        bad = [p for p in svc["spec"]["ports"] if cports.get(p["targetPort"]) != p["port"]]
        check(not bad, f"Service/{name}: every port reaches the learner's port of that name and number", str(bad))
for n, d in learners.items():
    check(d["spec"]["serviceName"] in by_kind["Service"] and by_kind["Service"][d["spec"]["serviceName"]]["spec"].get("clusterIP") == "None",
          f"StatefulSet/{n}: its serviceName is a headless Service")
    main = next(iter(by_kind["Service"].values()))
    want = {"data": 5555, "weights": 5556, "control": 5557, "metrics": 5558}
    have = {p["name"]: p["port"] for p in by_kind["Service"]["tributary-learner"]["spec"]["ports"]}
    check(have == want, "Service/tributary-learner has data 5555, weights 5556, control 5557, metrics 5558", str(have))
    check(any(v.get("spec", {}).get("resources", {}).get("requests", {}).get("storage") for v in d["spec"]["volumeClaimTemplates"]),
          f"StatefulSet/{n}: a volumeClaimTemplate for the runs")

print(f"  {results['passed']} passed, {results['failed']} failed")
sys.exit(1 if results["failed"] else 0)
EOF
)"
if ! "$venv/bin/python" -c "$consistency_py" "$venv/learner.help" "$venv/worker.help" "${manifests[@]}"; then failed=1; fi

# docs/deployment.md's commands for the keys and the manifests, as written, with a kubectl that
# makes the objects for real (client side) and, for `apply`, keeps what it is given instead of
# sending it to a cluster. What was applied must validate and hang together like the manifests.
echo "== docs/deployment.md, Kubernetes: the keys as Secrets, then the rest (kubectl apply captured)"
if command -v kubectl >/dev/null; then
    tmp="$(mktemp -d)"
    mkdir -p "$tmp/shim" "$tmp/run/deploy"
    ln -s "$(cd "$(dirname "${manifests[0]}")" && pwd)" "$tmp/run/deploy/kubernetes"
    real_kubectl="$(command -v kubectl)"
    cat >"$tmp/shim/kubectl" <<SHIM
#!/usr/bin/env bash
# kubectl, except that apply keeps what it is given in $tmp/applied.yaml.
if [[ "\$1" == apply ]]; then
    shift
    while [[ \$# -gt 0 ]]; do
        if [[ "\$1" == -f ]]; then
            if [[ "\$2" == - ]]; then cat; else cat "\$2"; fi >>"$tmp/applied.yaml"
            echo --- >>"$tmp/applied.yaml"
            shift 2
        else shift; fi
    done
    exit 0
fi
exec "$real_kubectl" "\$@"
SHIM
    chmod +x "$tmp/shim/kubectl"
    code="$(python3 "$here/doc_blocks.py" "$repo/docs/deployment.md" "# the keys as Secrets, then the rest")"
    if (cd "$tmp/run" && PATH="$tmp/shim:$bin:$PATH" bash -e -o pipefail -c "$code") >"$tmp/out" 2>&1; then
        mkdir -p "$tmp/applied"
        "$venv/bin/python" - "$tmp/applied.yaml" "$tmp/applied" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for i, d in enumerate(docs):
    yaml.safe_dump(d, open(f"{sys.argv[2]}/{i:02d}-{d['kind'].lower()}.yaml", "w"))
print(f"  ok   the commands ran: {len(docs)} objects applied")
EOF
        if out="$("$venv/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION" "$tmp"/applied/*.yaml 2>&1)" && ! grep -vq ' passed for resource ' <<<"$out"; then
            echo "  ok   what was applied validates: $(grep -c ' passed for resource ' <<<"$out") resources"
        else
            echo "  FAIL what was applied does not validate:"; sed 's/^/       /' <<<"$out"; failed=1
        fi
        if ! "$venv/bin/python" -c "$consistency_py" "$venv/learner.help" "$venv/worker.help" "$tmp"/applied/*.yaml; then failed=1; fi
        if ! "$venv/bin/python" - "$tmp"/applied/*.yaml <<'EOF'; then failed=1; fi
import base64, sys, yaml
bad = []
for f in sys.argv[1:]:
    d = yaml.safe_load(open(f))
    if d["kind"] != "Secret":
        continue
    for k, v in d.get("data", {}).items():
        want = "secret-key" if k.endswith("key_secret") else "public-key"
        if want not in base64.b64decode(v).decode():
            bad.append(f"{d['metadata']['name']}/{k}")
print(f"  {'ok  ' if not bad else 'FAIL'} the Secrets hold CURVE key files of the right kind" + (f": {bad}" if bad else ""))
sys.exit(1 if bad else 0)
EOF
    else
        echo "  FAIL the commands failed:"; sed 's/^/       /' "$tmp/out"; failed=1
    fi
    rm -rf "$tmp"
else
    echo "  NOT RUN: kubectl is not installed (the checks above still ran)"
fi
[[ $failed -eq 0 ]]
}

log="$(mktemp)"
set +e
run_checks 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
passed=$(grep -cE '^  (ok  |INFO .* passed for resource )' "$log" || true)
failed=$(grep -cE '^  (FAIL|ERROR|WARN)' "$log" || true)
rm -f "$log"
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "kubernetes.sh: %.1f s\n", b - a}'
[[ $rc -ne 0 && $failed -eq 0 ]] && failed=1
echo "kubernetes manifests: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
