#!/usr/bin/env bash
# Tests deploy/slurm/tributary.sbatch on a real single-node Slurm (docs/deployment.md, "How each is
# tested"): installs slurm-wlm and munge when missing (apt), starts munged on a private socket,
# slurmctld and slurmd with a minimal slurm.conf for this machine (its hostname, its CPUs; no
# cgroups: proctrack/linuxproc, task/none), submits the job with `sbatch --wait` to learn CartPole
# to its target, checks that the job COMPLETED with exit code 0 (scontrol show job; there is no
# accounting database) and that its output file has the learner's summary, solved under CURVE with
# the workers srun started; then stops the daemons it started. Safe to run twice, and after a run
# that was killed: its state lives in $SLURM_TEST_DIR, and daemons a previous run left are stopped
# first (by their pid files there). Non-interactive; needs root.
# Usage: TRIBUTARY_BIN_DIR=/path/to/release/bin deploy/test/slurm.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$here/common.sh"
need_binaries learner rollout-worker tributary
need_root "it starts munged, slurmctld and slurmd"
S="${SLURM_TEST_DIR:-/tmp/tributary-slurm-test}"
JOB_MINUTES="${JOB_MINUTES:-5}"
start=$(date +%s.%N)
export DEBIAN_FRONTEND=noninteractive

need_commands "slurm-wlm munge" slurmctld slurmd sbatch munged
echo "slurm.sh: $(slurmctld -V), $(munged -V 2>&1 | head -1)"

stop_pidfile() {  # stop_pidfile FILE NAME: the daemon whose pid FILE holds, if it is that daemon
    local f="$1" name="$2" pid
    [[ -f "$f" ]] || return 0
    pid="$(cat "$f" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(cat /proc/"$pid"/comm 2>/dev/null)" == "$name" ]]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
        if [[ -d /proc/$pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$f"
}
stop_daemons() {
    if [[ -f "$S/slurm.conf" ]] && [[ -f "$S/run/slurmctld.pid" ]]; then
        SLURM_CONF="$S/slurm.conf" scancel --quiet --user=root 2>/dev/null || true
    fi
    stop_pidfile "$S/run/slurmd.pid" slurmd
    stop_pidfile "$S/run/slurmctld.pid" slurmctld
    stop_pidfile "$S/munge/munged.pid" munged
}
# Whatever a previous run left behind.
stop_daemons
rm -rf "$S"
trap 'stop_daemons' EXIT

host="$(hostname -s)"
cpus="$(nproc)"
mkdir -p "$S"/{run,log,spool/ctld,spool/d,jobs,munge}
chmod 0755 "$S" "$S/jobs"

# munged on a socket of our own, with the key the munge package made.
if [[ ! -s /etc/munge/munge.key ]]; then
    (command -v mungekey >/dev/null && mungekey --create --keyfile=/etc/munge/munge.key) || create-munge-key -f
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
fi
chown munge:munge "$S/munge" && chmod 0700 "$S/munge"
runuser -u munge -- /usr/sbin/munged --force --socket="$S/munge/munge.socket" --pid-file="$S/munge/munged.pid" \
    --log-file="$S/munge/munged.log" --seed-file="$S/munge/munged.seed"
munge --socket="$S/munge/munge.socket" -n | unmunge --socket="$S/munge/munge.socket" >/dev/null \
    || { echo "slurm.sh: munged does not answer"; cat "$S/munge/munged.log"; exit 1; }

cat >"$S/slurm.conf" <<EOF
# A single-node cluster for deploy/test/slurm.sh. No cgroups (this may be a container):
# processes are tracked through /proc and tasks are not bound.
ClusterName=tributary-test
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=600
KillWait=30
StateSaveLocation=$S/spool/ctld
SlurmdSpoolDir=$S/spool/d
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=tributary Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$S/slurm.conf"
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF"
node_state() { scontrol show node "$host" 2>/dev/null | sed -n 's/.*State=\([A-Z+_]*\).*/\1/p' | head -1; }
for _ in $(seq 150); do
    case "$(node_state)" in IDLE*) break ;; esac
    sleep 0.2
done
if [[ "$(node_state)" != IDLE* ]]; then
    echo "slurm.sh: node $host is $(node_state), not IDLE"; tail -20 "$S/log/slurmctld.log" "$S/log/slurmd.log"; exit 1
fi
ready=$(date +%s.%N)
echo "slurm.sh: slurmctld and slurmd up, node $host ($cpus CPUs) idle after $(awk -v a="$start" -v b="$ready" 'BEGIN{printf "%.1f", b-a}') s"

# The job. With the config-file feature, the shipped config files give it the target return.
job_env=(TRIBUTARY_BIN_DIR="$bin" JOB_DIR="$S/jobs/job")
if grep -q -- '--config' <<<"$("$bin/learner" --help 2>&1)" && grep -q -- '--config' <<<"$("$bin/rollout-worker" --help 2>&1)"; then
    job_env+=(LEARNER_CONFIG="$repo/deploy/config/learner.yaml" WORKER_CONFIG="$repo/deploy/config/worker.yaml")
    echo "slurm.sh: LEARNER_CONFIG=deploy/config/learner.yaml (target-return 475), WORKER_CONFIG=deploy/config/worker.yaml"
else
    job_env+=(LEARNER_ARGS="--target-return 475")
    echo "slurm.sh: the binaries have no --config yet: LEARNER_ARGS=\"--target-return 475\" instead of deploy/config/learner.yaml"
fi
set +e
job_start=$(date +%s.%N)
jobid="$(cd "$S/jobs" && env "${job_env[@]}" sbatch --parsable --wait --time="$JOB_MINUTES" \
    --output="$S/jobs/tributary-%j.out" "$repo/deploy/slurm/tributary.sbatch" </dev/null)"
sbatch_rc=$?
job_end=$(date +%s.%N)
set -e +o pipefail

passed=0 failed=0
check() {  # check OK WHAT [DETAIL]
    if [[ "$1" == 1 ]]; then passed=$((passed + 1)); echo "  ok   $2${3:+: $3}"
    else failed=$((failed + 1)); echo "  FAIL $2${3:+: $3}"; fi
}
jobid="${jobid%%;*}"
info="$(scontrol show job "$jobid" 2>&1)"
state="$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<<"$info" | head -1)"
exitcode="$(sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p' <<<"$info" | head -1)"
out="$S/jobs/tributary-$jobid.out"
echo "slurm.sh: job $jobid: sbatch --wait exited $sbatch_rc after $(awk -v a="$job_start" -v b="$job_end" 'BEGIN{printf "%.1f", b-a}') s; JobState=$state ExitCode=$exitcode"
check "$([[ $sbatch_rc -eq 0 ]] && echo 1)" "sbatch --wait exited 0" "$sbatch_rc"
check "$([[ $state == COMPLETED && $exitcode == 0:0 ]] && echo 1)" "scontrol show job: JobState=COMPLETED ExitCode=0:0" "JobState=$state ExitCode=$exitcode"
summary="$(grep '"event":"summary"' "$out" 2>/dev/null | tail -1)"
verdict="$(python3 -c '
import json, sys
s = json.loads(sys.argv[1]); st = s["status"]
ids = sorted(w["worker_id"] for w in st["workers"])
ok = s.get("solved") is not None and s["solved"].get("mean_return_100", 0) >= 475 and st["security"] == "curve" and len(ids) >= 2
print(("1" if ok else "0") + " mean_return_100 at the target=%s (at the end %s) security=%s workers=%s" % (s["solved"].get("mean_return_100") if s.get("solved") else None, st["mean_return_100"], st["security"], ids))
' "$summary" 2>/dev/null || echo "0 no summary line in $out")"
check "${verdict%% *}" "the job's output has the learner's summary: CartPole solved under CURVE by the srun workers" "${verdict#* }"
check "$(grep -q '"event":"ready"' "$out" 2>/dev/null && ls "$S"/jobs/job/runs/*/checkpoints/*.ckpt >/dev/null 2>&1 && echo 1)" \
    "the learner's run and checkpoint are in the job directory"
graceful=$(grep -l '"event":"summary"' "$S"/jobs/job/worker-*.out 2>/dev/null | wc -l)
check "$([[ $graceful -ge 2 ]] && echo 1)" "the workers were stopped with SIGTERM and exited cleanly (their summary lines)" "$graceful of $(ls "$S"/jobs/job/worker-*.out 2>/dev/null | wc -l)"

# scancel of a running job: the learner gets SIGTERM, drains, checkpoints and prints its summary.
echo "slurm.sh: a second job without a target, cancelled with scancel once it trains"
job2="$(cd "$S/jobs" && env TRIBUTARY_BIN_DIR="$bin" JOB_DIR="$S/jobs/job2" LEARNER_ARGS="--target-return off" \
    sbatch --parsable --time="$JOB_MINUTES" --output="$S/jobs/tributary-%j.out" "$repo/deploy/slurm/tributary.sbatch" </dev/null)"
job2="${job2%%;*}"
out2="$S/jobs/tributary-$job2.out"
for _ in $(seq 300); do grep -q '"event":"ready"' "$out2" 2>/dev/null && break; sleep 0.1; done
sleep 3
scancel "$job2"
state2=""
for _ in $(seq 600); do
    state2="$(scontrol show job "$job2" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1)"
    [[ "$state2" == RUNNING || "$state2" == COMPLETING || "$state2" == PENDING ]] || break
    sleep 0.1
done
check "$([[ $state2 == CANCELLED ]] && echo 1)" "scancel: JobState=CANCELLED" "$state2"
check "$(grep -q '"event":"summary"' "$out2" && ls "$S"/jobs/job2/runs/*/checkpoints/*.ckpt >/dev/null 2>&1 && echo 1)" \
    "scancel: the learner drained, checkpointed and printed its summary" "$(grep -c '"event":"summary"' "$out2") summary line(s)"
if [[ $failed -ne 0 ]]; then
    echo "--- $out"; tail -20 "$out" 2>/dev/null
    echo "--- learner.err"; tail -10 "$S/jobs/job/learner.err" 2>/dev/null
    echo "--- slurmctld.log"; tail -10 "$S/log/slurmctld.log"
    echo "--- slurmd.log"; tail -10 "$S/log/slurmd.log"
fi
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "slurm.sh: %.1f s in all\n", b - a}'
echo "slurm: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
