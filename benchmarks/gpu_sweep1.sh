#!/usr/bin/env bash
# One GPU (not CI): `depthnet sweep` over the REAL TAO 7.3.0 depth_net with no --objective, so the default is used:
# val/abs_rel when the spec validates. Three trials one after another on GPU 0 (never two on one GPU), then
# `sweep status --json`, `sweep best -o` and `validate` of the best spec.
#
#   benchmarks/gpu_sweep1.sh SITE WHEELS REDWOOD OUT   (as gpu_scale.sh)
set -uo pipefail
. "$(dirname "$0")/gpu_common.sh" "$@"
need_gpus 1
gpu_info
work_dir sweep1
two_epoch_spec $W $W/base $W/base.yaml || exit 1
T0=$(date +%s.%N)
dn sweep -e $W/base.yaml --trials 3 --out $W/sweep --backend local --gpus 0 \
  --param train.optim.lr=loguniform:1e-5:3e-4 --seed 1 > "$OUT/sweep.stdout" 2> "$OUT/sweep.stderr"
echo "sweep exit $? wall $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" | tee "$OUT/sweep.txt"
cat "$OUT/sweep.stdout" "$OUT/sweep.stderr"
dn sweep status $W/sweep --json > "$OUT/sweep_status.json"; dn sweep status $W/sweep | tee -a "$OUT/sweep.txt"
dn sweep best $W/sweep -o $W/best.yaml && dn validate $W/best.yaml --action train | tee -a "$OUT/sweep.txt"
python3 - <<'PY' | tee -a "$OUT/sweep.txt"
import json, os
info = json.load(open(os.environ["OUT"] + "/sweep_status.json"))
for t in info["trials"]:
    rows = [json.loads(l) for l in open(t["results_dir"] + "/status.json") if l.startswith("{")]
    last = [r["kpi"]["val/abs_rel"] for r in rows if "val/abs_rel" in r.get("kpi", {})]
    print(t["number"], t["state"], t["value"], "last val/abs_rel in status.json:", last[-1] if last else None)
print("objective", info["objective"], "best", info["best"])
PY
