#!/usr/bin/env bash
# Two GPUs (not CI): the sbatch script `depthnet run --backend slurm --gpus-per-node 2` writes, run on one machine
# with the environment srun gives a task, against the REAL TAO 7.3.0 depth_net — no Slurm needed (a GPU box has
# none): a stand-in `srun` on PATH drops its options and runs its command with SLURM_NTASKS, SLURM_NTASKS_PER_NODE,
# SLURM_JOB_NAME, SLURM_NNODES, SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID and SLURM_JOB_NODELIST as a real job's
# task would have them (issue 27, item 4).
#   1. before: the task line depthnet wrote until one task per node cleared Slurm's task variables
#      (tests/slurm_scripts/old_task_line.sbatch): TAO's entrypoint straight under srun — Lightning's own refusal
#      ("You set `devices=2` … `--ntasks-per-node=1` does not match");
#   2. after: the job script of `depthnet run … --backend slurm --gpus-per-node 2 --dry-run`, as sbatch would run
#      it: DDP on two GPUs, judged by `depthnet verdict` (PASS, both ranks, each step counted once).
# NCCL_NVLS_ENABLE=0 (NVLink multicast off, as the device's notes ask).
#
#   benchmarks/gpu_slurm2.sh SITE WHEELS REDWOOD OUT   (as gpu_e2e.sh)
# On the stand-in (DEPTHNET_GPU_STANDIN=1) depth_net is tests/slurm_standin/depth_net, which applies TAO's
# entrypoint and Lightning 2.6.6's SLURMEnvironment checks as the real code does.
set -uo pipefail
. "$(dirname "$0")/gpu_common.sh" "$@"
need_gpus 2
gpu_info
export NCCL_NVLS_ENABLE=0
if [ "$STANDIN" = 1 ]; then  # the Slurm stand-in, not the replay: the replay knows nothing of Lightning's check
  mkdir -p "$WORK/slurm-bin"
  printf '#!/bin/sh\nexec %s %s "$@"\n' "$(command -v python3)" "$REPO/tests/slurm_standin/depth_net" \
    > "$WORK/slurm-bin/depth_net" && chmod +x "$WORK/slurm-bin/depth_net"
  export PATH="$WORK/slurm-bin:$PATH"
fi

work_dir slurm2
two_epoch_spec "$W" "$W/results" "$W/train.yaml" || exit 1

# srun as a task sees it: one node, one task on it, two GPUs for that task (what --gpus-per-node=2 gives).
mkdir -p "$W/bin"
cat > "$W/bin/srun" <<EOF
#!/bin/bash
while [[ "\${1:-}" == --* ]]; do shift; done
export SLURM_NTASKS=1 SLURM_NTASKS_PER_NODE=1 SLURM_TASKS_PER_NODE=1 SLURM_NNODES=1 SLURM_PROCID=0 SLURM_LOCALID=0
export SLURM_NODEID=0 SLURM_STEP_ID=0 CUDA_VISIBLE_DEVICES=$(gpu_ids 2)
exec "\$@"
EOF
chmod +x "$W/bin/srun"
# What sbatch gives the job script itself.
job_env() {
  env PATH="$W/bin:$PATH" SLURM_JOB_ID=4242 SLURM_JOB_NAME=depthnet-train SLURM_JOB_NODELIST=localhost \
    SLURM_JOB_NUM_NODES=1 SLURM_NNODES=1 SLURM_NTASKS=1 SLURM_NTASKS_PER_NODE=1 SLURM_GPUS_ON_NODE=2 "$@"
}
# two_gpu_spec SRC DST: the spec copy depthnet writes for two GPUs on one node.
two_gpu_spec() {
  python3 - "$1" "$2" <<'PY'
import sys, yaml
data = yaml.safe_load(open(sys.argv[1]))
data.setdefault("train", {}).update(num_gpus=2, gpu_ids=[0, 1], num_nodes=1)
yaml.safe_dump(data, open(sys.argv[2], "w"))
PY
}
# judge NAME RESULTS LOG CODE: `depthnet verdict` into OUT/NAME.json, one summary line on stdout.
judge() {
  dn verdict "$2" --log "$3" --exit-code "$4" --action train --json > "$OUT/$1.json"
  python3 - "$1" "$3" <<'PY'
import json, os, re, sys
name, log = sys.argv[1], sys.argv[2]
said = open(os.path.join(os.environ["OUT"], f"{name}.json")).read()
v = json.loads(said) if said.strip() else {"verdict": None, "reason": "depthnet verdict gave no JSON"}
text = open(log, errors="replace").read()
from specgen.engine.events import StepLoss
from specgen.engine.logparse import LogParser
ranks = sorted({f"{r}/{n}" for r, n in re.findall(r"GLOBAL_RANK: (\d+), MEMBER: \d+/(\d+)", text)})
refused = "You set `devices=2` in Lightning, but the number of tasks per node configured in SLURM" in text
parser = LogParser()
steps = [e for e in [*parser.feed(text), *parser.flush()] if isinstance(e, StepLoss)]
print(json.dumps({"name": name, "verdict": v.get("verdict"), "reason": (v.get("reasons") or [v.get("reason")])[0],
                  "epochs": v.get("epochs_completed"), "ranks": ranks, "lightning_refused": refused,
                  "step_points": len(steps), "distinct_steps": len({(s.epoch, s.global_step) for s in steps})}))
PY
}

# 1. Before: the old task line (TAO's entrypoint under srun, Slurm's task variables left for Lightning to read).
mkdir -p "$W/old/results/train"  # refused before TAO makes it: the verdict needs the folder to judge
two_gpu_spec "$W/train.yaml" "$W/old/spec.yaml"
sed "s#$W/results#$W/old/results#" -i "$W/old/spec.yaml"
sed -e "s#@LOG@#$W/old/log.txt#g" -e "s#@EXIT@#$W/old/exit_code#g" -e "s#@SPEC@#$W/old/spec.yaml#g" \
  "$REPO/tests/slurm_scripts/old_task_line.sbatch" > "$W/old/job.sbatch"
T0=$(date +%s.%N)
job_env bash "$W/old/job.sbatch" > "$W/old/log.txt" 2>&1
echo "old task line: exit $? wall $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" | tee "$OUT/old.txt"
judge old "$W/old/results/train" "$W/old/log.txt" "$(cat "$W/old/exit_code" 2>/dev/null || echo 1)" | tee -a "$OUT/old.txt"
grep -m1 -o "You set \`devices=2\`[^.]*" "$W/old/log.txt" | tee -a "$OUT/old.txt"

# 2. After: the script depthnet writes now. A dry run writes no run folder: ours stands in for it (the spec copy
#    with two GPUs, the exit code, attempts.txt), as sbatch would run it from the run folder.
dn run train -e "$W/train.yaml" --backend slurm --container-runtime none --gpus-per-node 2 --dry-run \
  > "$W/dry.sbatch" 2> "$W/dry.stderr" || { cat "$W/dry.stderr" >&2; exit 1; }
FOLDER=$(python3 -c 'import sys; print(next(w for w in open(sys.argv[1]).read().split() if w.endswith("/spec.yaml")).rsplit("/", 1)[0])' "$W/dry.sbatch")
mkdir -p "$W/job"
sed "s#$FOLDER#$W/job#g" "$W/dry.sbatch" > "$W/job/job.sbatch"
two_gpu_spec "$W/train.yaml" "$W/job/spec.yaml"
cp "$W/job/job.sbatch" "$OUT/job.sbatch"
T0=$(date +%s.%N)
job_env bash "$W/job/job.sbatch" > "$W/job/log.txt" 2>&1
echo "new job script: exit $? wall $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" | tee "$OUT/new.txt"
judge new "$W/results/train" "$W/job/log.txt" "$(cat "$W/job/exit_code" 2>/dev/null || echo 1)" | tee -a "$OUT/new.txt"
grep -h "GLOBAL_RANK\|Execution status" "$W/job/log.txt" | head -n 6
tail -n 40 "$W/old/log.txt" > "$OUT/old.log.tail"
tail -n 60 "$W/job/log.txt" > "$OUT/new.log.tail"
