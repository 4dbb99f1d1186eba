#!/usr/bin/env bash
# Starts a one-machine Slurm cluster (munged, slurmctld and slurmd on this host, ProctrackType
# proctrack/linuxproc, TaskPlugin task/none), submits a tiny sweep with `lifelong sweep --slurm`,
# waits for it, checks that every point finished and the report groups them, and stops every
# daemon it started. Needs root and Debian's slurm-wlm and munge (installed if missing).
#   scripts/slurm_local_test.sh [path/to/lifelong]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-.build/release/lifelong}")
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
WORK=$(mktemp -d /tmp/lifelong-slurm.XXXXXX)
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 1
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# munge: a key of our own, a socket in the work directory.
mkdir -p "$WORK/munge"
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge/munge.key"
munged --key-file="$WORK/munge/munge.key" --socket="$WORK/munge/socket" --pid-file="$WORK/munge/pid" \
       --log-file="$WORK/munge/log" --seed-file="$WORK/munge/seed" --force
PIDS+=("$(cat "$WORK/munge/pid")")

mkdir -p "$WORK/state" "$WORK/spool"
cat > "$WORK/slurm.conf" <<CONF
ClusterName=lifelong-test
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$WORK/munge/socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ReturnToService=2
MpiDefault=none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$WORK/slurm.conf"
slurmctld -c -f "$SLURM_CONF"
for _ in $(seq 50); do [ -s "$WORK/slurmctld.pid" ] && break; sleep 0.2; done
PIDS+=("$(cat "$WORK/slurmctld.pid")")
slurmd -f "$SLURM_CONF"
for _ in $(seq 50); do [ -s "$WORK/slurmd.pid" ] && break; sleep 0.2; done
PIDS+=("$(cat "$WORK/slurmd.pid")")
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed" && break; sleep 1; done
sinfo -h -o "%P %T %c" || { echo "the node did not come up:"; tail -20 "$WORK/slurmd.log" "$WORK/slurmctld.log"; exit 1; }

cat > "$WORK/sweep.yaml" <<SWEEP
name: slurm-tiny
base:
  model: scratch
  scratch: {architecture: gpt2, hidden: 16, layers: 1, heads: 2, positions: 64}
  stream: synthetic
  subsample: {train: 8, test: 4}
  training: {epochs: 1, max_length: 64, tokens_per_batch: 256}
axes:
  method.name: [finetune, lamol]
  seed: [1, 2]
SWEEP
"$BIN" sweep "$WORK/sweep.yaml" --runs "$WORK/runs" --slurm --cpus 1 --memory 1G --time 00:10:00
for _ in $(seq 300); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 1; done
"$BIN" sweep "$WORK/sweep.yaml" --runs "$WORK/runs" --status | tee "$WORK/status"
done=$(grep -c ": done$" "$WORK/status" || true)
if [ "$done" -ne 4 ]; then
    echo "FAILED: $done of 4 points done"; tail -5 "$WORK"/runs/slurm-tiny/slurm-*.log 2>/dev/null || true; exit 1
fi
"$BIN" report "$WORK"/runs/slurm-tiny/*_seed-*/ --out "$WORK/report" >/dev/null
grep -q "| finetune | 2 (1, 2) |" "$WORK/report/report.md" && grep -q "| lamol-task | 2 (1, 2) |" "$WORK/report/report.md" \
    || { echo "FAILED: the report does not group the two seeds"; exit 1; }
echo "slurm sweep: 4 passed, 0 failed"
