#!/usr/bin/env python3
"""The process test of deploy/systemd: the learner unit and two tributary-worker@ instances run as
systemd would start them (deploy/test/unitexec.py reads the units), with the config files they ship,
until the learner reaches the CartPole target. Called by deploy/test/systemd.sh inside a mount
namespace where /etc/tributary holds the shipped configuration and fresh keys and /usr/local/bin
the binaries under test; it needs root (to run each service as its own unprivileged user, as
DynamicUser= does) but no systemd.

Each check prints "ok" or "FAIL"; the last line is "N passed, N failed". Exit 0 only if none failed.
"""
import ctypes
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unitexec  # noqa: E402

RESULTS = {"passed": 0, "failed": 0}


def check(ok, what, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def read_yaml_flags(path):
    """The subset of YAML the shipped config files use: `key: scalar`, `key: [a, b]`, `key:` with
    `- item` lines, # comments. Returns {key: str | bool | [str]}."""
    out, list_key = {}, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = re.sub(r"(^|\s)#.*$", "", raw.rstrip("\n"))
            if not line.strip():
                continue
            item = re.match(r"^\s+-\s+(.*)$", line)
            if item and list_key:
                out[list_key].append(unquote(item.group(1).strip()))
                continue
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9-]*):\s*(.*)$", line)
            if not m:
                raise SystemExit(f"run_units: {path}: cannot read {raw!r}")
            key, val = m.group(1), m.group(2).strip()
            list_key = None
            if val == "":
                out[key], list_key = [], key
            elif val.startswith("[") and val.endswith("]"):
                out[key] = [unquote(v.strip()) for v in val[1:-1].split(",") if v.strip()]
            elif val in ("true", "false"):
                out[key] = val == "true"
            else:
                out[key] = unquote(val)
    return out


def unquote(v):
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'" else v


PR_SET_NO_NEW_PRIVS, PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 38, 65, 1


def sandbox(plan):
    """In the child before exec: what of the unit's sandbox a plain process can take on without
    systemd: NoNewPrivileges= (prctl) and MemoryDenyWriteExecute= (the kernel's own PR_SET_MDWE,
    Linux 6.3+, the same rule: no memory that is or becomes both writable and executable)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def apply():
        if plan["no_new_privileges"] and libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            os.write(2, b"run_units: PR_SET_NO_NEW_PRIVS failed\n")
            os._exit(120)
        if plan["memory_deny_write_execute"] and MDWE_AVAILABLE:
            if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
                os.write(2, b"run_units: PR_SET_MDWE failed\n")
                os._exit(121)

    return apply


def mdwe_available():
    probe = "import ctypes,sys; sys.exit(0 if ctypes.CDLL(None).prctl(65,1,0,0,0)==0 else 1)"
    return subprocess.run([sys.executable, "-c", probe]).returncode == 0


MDWE_AVAILABLE = False


class Service:
    """One unit started the way systemd would: its user, umask, environment, credentials, state
    directory and command line. DROPIN is extra Environment= (what `systemctl edit` would add)."""

    def __init__(self, unit_path, work, uid, instance=None, dropin=None, credentials_from=None):
        self.plan = unitexec.plan(unit_path, instance, "", os.path.join(work, "var/lib"),
                                  os.path.join(work, "run/credentials"))
        self.name, self.uid, self.work = self.plan["unit"], uid, work
        self.env = dict(self.plan["env"])
        self.env.update(dropin or {})
        self.argv = list(self.plan["argv"])
        for d in self.plan["state_directories"]:
            path = os.path.join(work, "var/lib", d)
            os.makedirs(path, exist_ok=True)
            os.chown(path, uid, uid)
            os.chmod(path, int(self.plan["state_directory_mode"], 8))
        if self.plan["credentials"]:
            cdir = self.env["CREDENTIALS_DIRECTORY"]
            os.makedirs(cdir, exist_ok=True)
            for c in self.plan["credentials"]:
                src = (credentials_from or {}).get(c["id"], c["source"])
                dst = os.path.join(cdir, c["id"])
                shutil.copyfile(src, dst)
                os.chown(dst, uid, uid)
                os.chmod(dst, 0o400)
            os.chown(cdir, uid, uid)
            os.chmod(cdir, 0o500)
        safe = self.name.replace("@", "_")
        self.out_path = os.path.join(work, f"{safe}.stdout")
        self.err_path = os.path.join(work, f"{safe}.stderr")
        self.proc = None

    def start(self):
        print(f"  start {self.name} as uid {self.uid}: {' '.join(self.argv)}", flush=True)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd="/", stdin=subprocess.DEVNULL,
            stdout=open(self.out_path, "wb"), stderr=open(self.err_path, "wb"),
            user=self.uid, group=self.uid, extra_groups=[], umask=int(self.plan["umask"], 8),
            preexec_fn=sandbox(self.plan), close_fds=True)
        return self

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """systemctl stop: KillSignal=, then TimeoutStopSec= before SIGKILL. Returns (rc, seconds)."""
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(getattr(signal, self.plan["kill_signal"]))
        rc = self.wait(self.plan["timeout_stop_seconds"])
        if rc is None:
            self.proc.kill()
            self.proc.wait()
            return None, time.monotonic() - t0
        return rc, time.monotonic() - t0

    def stdout_lines(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return [l for l in f.read().splitlines() if l.strip()]

    def json_events(self):
        events = []
        for line in self.stdout_lines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
        return events

    def stderr_tail(self, n=8):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return "\n".join(f.read().splitlines()[-n:])


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def unused_uid(start):
    uid = start
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


def wait_for(pred, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def main():
    global MDWE_AVAILABLE
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--units", required=True, help="deploy/systemd")
    p.add_argument("--work", required=True)
    p.add_argument("--stray-key", required=True, help="a worker secret key that is NOT enrolled")
    p.add_argument("--worker-key-name", required=True)
    p.add_argument("--learner-timeout", type=float, default=120)
    a = p.parse_args()

    os.makedirs(a.work, exist_ok=True)
    MDWE_AVAILABLE = mdwe_available()
    print(f"  MemoryDenyWriteExecute as PR_SET_MDWE: {'applied' if MDWE_AVAILABLE else 'not available on this kernel'}")
    learner_unit = os.path.join(a.units, "tributary-learner.service")
    worker_unit = os.path.join(a.units, "tributary-worker@.service")
    data, weights, control, metrics = free_ports(4)
    ports = {"TRIBUTARY_DATA_PORT": str(data), "TRIBUTARY_WEIGHTS_PORT": str(weights),
             "TRIBUTARY_CONTROL_PORT": str(control)}
    print(f"  drop-in for every unit (ports free on this machine): {ports}, learner also "
          f"TRIBUTARY_METRICS_PORT={metrics}; workers TRIBUTARY_LEARNER=127.0.0.1")
    learner_cfg = read_yaml_flags("/etc/tributary/learner.yaml")
    target = float(learner_cfg["target-return"])
    host = socket.gethostname()
    learner_uid = unused_uid(61184)  # DynamicUser= takes uids from 61184-65519
    uid = learner_uid

    def worker(instance, extra=None, creds=None):
        nonlocal uid
        uid = unused_uid(uid + 1)
        dropin = dict(ports, TRIBUTARY_LEARNER="127.0.0.1")
        dropin.update(extra or {})
        return Service(worker_unit, a.work, uid, instance=str(instance), dropin=dropin,
                       credentials_from=creds)

    # Exit codes the units rely on (RestartPreventExitStatus=).
    print("exit codes against RestartPreventExitStatus=")
    bad_learner = Service(learner_unit, os.path.join(a.work, "bad"), learner_uid,
                          dropin=dict(ports, TRIBUTARY_METRICS_PORT=str(metrics),
                                      TRIBUTARY_CONTROL_PORT="not-a-port")).start()
    rc = bad_learner.wait(30)
    check(rc == 64 and 64 in bad_learner.plan["restart_prevent_exit_status"],
          "learner with an invalid setting (TRIBUTARY_CONTROL_PORT=not-a-port) exits 64, which its unit does not restart",
          f"rc={rc}, RestartPreventExitStatus={bad_learner.plan['restart_prevent_exit_status']}; {bad_learner.stderr_tail(2)}")
    bad_worker = worker(90, {"TRIBUTARY_NUM_ENVS": "many"}).start()
    rc = bad_worker.wait(30)
    check(rc == 64 and 64 in bad_worker.plan["restart_prevent_exit_status"],
          "worker with an invalid setting (TRIBUTARY_NUM_ENVS=many) exits 64, which its unit does not restart",
          f"rc={rc}; {bad_worker.stderr_tail(2)}")

    print("learner and two workers, as the units start them")
    t0 = time.monotonic()
    learner = Service(learner_unit, a.work, learner_uid,
                      dropin=dict(ports, TRIBUTARY_METRICS_PORT=str(metrics))).start()
    ready = wait_for(lambda: next((e for e in learner.json_events() if e.get("event") == "ready"), None)
                     if learner.proc.poll() is None else "exited", 30)
    if not isinstance(ready, dict):
        check(False, "learner ready", f"rc={learner.proc.poll()}; {learner.stderr_tail()}")
        return finish()
    check(ready.get("data") == [f"tcp://0.0.0.0:{data}"],
          f"learner binds what learner.yaml says (bind: {learner_cfg['bind']})", str(ready.get("data")))
    check(ready.get("metrics") == f"http://127.0.0.1:{metrics}",
          "learner serves /metrics where learner.yaml says (metrics-bind: 127.0.0.1)", str(ready.get("metrics")))
    workers = [worker(i).start() for i in (0, 1)]
    env_mismatch = worker(91, {"TRIBUTARY_ENV": "Acrobot-v1"}).start()
    stray = worker(92, creds={"worker.key_secret": a.stray_key})
    stray.start()

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/healthz", timeout=5) as r:
            body = r.read().decode()
            check(r.status == 200 and '"ok"' in body, "/healthz answers 200 while training", body[:100])
    except Exception as e:  # noqa: BLE001
        check(False, "/healthz answers 200 while training", repr(e))

    rc = env_mismatch.wait(30)
    check(rc == 2 and 2 in env_mismatch.plan["restart_prevent_exit_status"],
          "worker refused for its environment (TRIBUTARY_ENV=Acrobot-v1) exits 2, which its unit does not restart",
          f"rc={rc}; {env_mismatch.stderr_tail(2)}")
    rc = stray.wait(60)
    check(rc == 4 and 4 in stray.plan["restart_prevent_exit_status"],
          "worker whose key is not enrolled exits 4, which its unit does not restart",
          f"rc={rc}; {stray.stderr_tail(2)}")

    rc = learner.wait(a.learner_timeout)
    elapsed = time.monotonic() - t0
    if rc is None:
        learner.stop()
    check(rc == 0, f"learner exits 0 by itself (at its target) within {a.learner_timeout:.0f} s",
          f"rc={rc} after {elapsed:.1f} s; {learner.stderr_tail(3) if rc else ''}".rstrip("; "))
    summary = next((e for e in learner.json_events() if e.get("event") == "summary"), None)
    status = (summary or {}).get("status", {})
    # The mean when the target was reached; the status's is later (past the target it can swing).
    mean = ((summary or {}).get("solved") or {}).get("mean_return_100")
    check(summary is not None and mean is not None and mean >= target,
          f"summary line: CartPole solved, mean return of the last 100 episodes >= {target:g} (learner.yaml)",
          f"mean_return_100 at the target={mean}, at the end={status.get('mean_return_100')}, solved={None if summary is None else summary.get('solved')}")
    check(status.get("security") == "curve", "learner ran with CURVE", str(status.get("security")))
    seen = {w.get("worker_id"): w.get("key_name") for w in status.get("workers", [])}
    want = {f"{host}/0", f"{host}/1"}
    check(want <= set(seen) and all(seen[w] == a.worker_key_name for w in want),
          f"both workers trained it, as {sorted(want)} (%H/%i) with key {a.worker_key_name}", str(seen))

    state = learner.env["STATE_DIRECTORY"]
    run_dir = (summary or {}).get("run_directory", "")
    check(run_dir.startswith(os.path.join(state, "runs") + "/"), "run directory under ${STATE_DIRECTORY}/runs", run_dir)
    cfg = {}
    try:
        with open(os.path.join(run_dir, "config.json")) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        check(False, "config.json written", repr(e))
    check(cfg.get("env_id") == learner_cfg["env"], f"the run's config.json has env_id {learner_cfg['env']}", str(cfg.get("env_id")))
    ckpts = [f for f in os.listdir(os.path.join(run_dir, "checkpoints"))] if os.path.isdir(os.path.join(run_dir, "checkpoints")) else []
    check(any(f.endswith(".ckpt") for f in ckpts), "a checkpoint was written in the state directory", str(ckpts))
    wrong = []
    for root, dirs, files in os.walk(state):
        for n in dirs + files:
            st = os.lstat(os.path.join(root, n))
            if st.st_uid != learner.uid or (not os.path.isdir(os.path.join(root, n)) and st.st_mode & 0o077):
                wrong.append(f"{os.path.join(root, n)} uid={st.st_uid} mode={oct(st.st_mode & 0o777)}")
    check(not wrong, f"everything in the state directory belongs to the service's user and obeys UMask={learner.plan['umask']}",
          "; ".join(wrong[:3]))

    print("systemctl stop tributary-worker@0 tributary-worker@1")
    for w in workers:
        alive = w.proc.poll() is None
        rc, secs = w.stop()
        check(alive and rc in (0, -signal.SIGTERM),
              f"{w.name} was still running (reconnecting) and stops cleanly on {w.plan['kill_signal']} within TimeoutStopSec={w.plan['timeout_stop_seconds']}",
              f"alive={alive}, rc={rc}, {secs:.1f} s")
    print(f"  learner: {elapsed:.1f} s from start to exit; env steps {status.get('steps_received')}, updates {status.get('updates')}")
    return finish()


def finish():
    print(f"process test: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
