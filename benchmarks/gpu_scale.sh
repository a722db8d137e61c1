#!/usr/bin/env bash
# Two GPUs (not CI): the REAL TAO 7.3.0 depth_net driven by the product on the first two GPUs of a machine.
#   1. NVML facts through specgen.engine.nvml (the present path: names, memory, compute capability, driver, CUDA);
#   2. `depthnet run train --backend local --gpus 0,1`: the run's spec copy gets num_gpus 2 / gpu_ids [0, 1], TAO
#      trains with DDP, both ranks print into one console; losses, epochs and the verdict must be right, and NVML
#      (sampled at 2 Hz meanwhile) must show both GPUs busy;
#   3. `depthnet sweep --trials 2 --gpus 0,1 --backend local`: two trials at once, one per GPU.
#
#   benchmarks/gpu_scale.sh SITE WHEELS REDWOOD OUT   (as gpu_e2e.sh; WHEELS also holds optuna and nvidia-ml-py)
set -uo pipefail
. "$(dirname "$0")/gpu_common.sh" "$@"
need_gpus 2
gpu_info
GPUS=$(gpu_ids 2)

python3 - > "$OUT/nvml.json" <<'PY'
import dataclasses, json
from specgen.engine import nvml
f = nvml.facts()
print(json.dumps({"facts": dataclasses.asdict(f), "labels": [g.label() for g in f.gpus], "bf16": [g.bf16 for g in f.gpus],
                  "sample": [s.line() for s in nvml.sample()]}, indent=1))
PY

work_dir scale
two_epoch_spec $W $W/ddp $W/ddp.yaml || exit 1
sed "s#$W/ddp#$W/sweepbase#" $W/ddp.yaml > $W/sweepbase.yaml

# NVML at 2 Hz while the DDP run trains: the peak memory and utilisation of each GPU (none on the stand-in).
python3 - "$GPUS" > "$OUT/ddp_nvml.tsv" <<'PY' &
import sys, time
from specgen.engine import nvml
gpus = [int(i) for i in sys.argv[1].split(",")]
t0 = time.time()
while time.time() - t0 < 200:
    for s in nvml.sample(gpus):
        print(f"{time.time() - t0:.1f}\t{s.index}\t{s.utilization}\t{s.memory_used}\t{s.power_w}", flush=True)
    time.sleep(0.5)
PY
SAMPLER=$!
T0=$(date +%s.%N)
dn run train -e $W/ddp.yaml --backend local --gpus $GPUS --json-events > "$OUT/ddp.jsonl" 2> "$OUT/ddp.stderr"
echo "ddp exit $? wall $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" | tee "$OUT/ddp.txt"
kill $SAMPLER 2>/dev/null
python3 - <<'PY' | tee -a "$OUT/ddp.txt"
import json, os
out = os.environ["OUT"]
evs = [json.loads(l) for l in open(f"{out}/ddp.jsonl") if l.startswith("{")]
steps = [e for e in evs if e["kind"] == "step_loss"]
v = next(e for e in evs if e["kind"] == "verdict")
ranks = sorted({l["text"].split("GLOBAL_RANK: ")[1].split(",")[0] for l in evs
                if l["kind"] == "log" and "GLOBAL_RANK: " in l["text"]})
peak = {}
for line in open(f"{out}/ddp_nvml.tsv"):
    t, i, util, mem, power = line.split("\t")
    peak[i] = max(peak.get(i, (0, 0)), (int(mem), int(util) if util != "None" else 0))
print(json.dumps({"verdict": "PASS" if v["passed"] else "FAIL", "reason": v["reason"], "epochs": v["epochs_completed"],
                  "chart_points": len(steps), "distinct_steps": len({s["global_step"] for s in steps}),
                  "losses": [round(s["loss"], 4) for s in steps], "ranks_seen": ranks,
                  "peak_mem_gib_util": {i: (round(m / 2**30, 2), u) for i, (m, u) in peak.items()}}))
PY
grep -h "note:" "$OUT/ddp.stderr"

T0=$(date +%s.%N)
dn sweep -e $W/sweepbase.yaml --trials 2 --out $W/sweep --backend local --gpus $GPUS \
  --param train.optim.lr=loguniform:1e-5:1e-3 --seed 1 2> "$OUT/sweep.stderr"
echo "sweep exit $? wall $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" | tee "$OUT/sweep.txt"
cat "$OUT/sweep.stderr"
dn sweep status $W/sweep --json > "$OUT/sweep_status.json"; dn sweep status $W/sweep | tee -a "$OUT/sweep.txt"
cat "$OUT/nvml.json"
