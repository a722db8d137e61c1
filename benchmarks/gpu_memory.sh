#!/usr/bin/env bash
# GPU memory calibration (not CI): peak GPU memory of real TAO 7.3.0 depth_net training for several encoders, batch
# sizes, precisions and activation checkpointing, measured with NVML (the memory the process holds, CUDA context and
# allocator cache included: what must fit). Two GPUs run one configuration each at a time. The figures go to
# benchmarks/gpu_memory_points.json, which specgen/job/memory_fit.py is fitted to.
#
#   benchmarks/gpu_memory.sh SITE WHEELS REDWOOD OUT [more]   (as gpu_e2e.sh; "more": the second set of points)
set -uo pipefail
. "$(dirname "$0")/gpu_common.sh" "$@"
redwood_data 8
W=/tmp/dn-mem; rm -rf $W; mkdir -p $W
dn convert --data-root $D/train --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $W/ann >/dev/null

measure() {  # measure NAME GPU ENCODER CROP BATCH PRECISION CHECKPOINT
  local name=$1 gpu=$2 enc=$3 crop=$4 bs=$5 prec=$6 ckpt=$7
  dn spec train --encoder "$enc" --recipe sanity --dataset-name NYUDV2 --data-file $W/ann/test.txt \
    --val-data-file $W/ann/test.txt --results-dir $W/$name --set model.mono_backbone.pretrained_path=null \
    --set train.pretrained_model_path=null --set train.num_epochs=1 --set "dataset.train_dataset.batch_size=$bs" \
    --set "dataset.train_dataset.augmentation.crop_size=[$crop,$crop]" --set "train.precision=$prec" \
    --set "train.activation_checkpoint=$ckpt" --set train.validation_interval=1 -o $W/$name.yaml --force >/dev/null 2>&1 \
    || { echo "{\"name\": \"$name\", \"error\": \"spec\"}"; return; }
  python3 - "$name" "$gpu" "$enc" "$crop" "$bs" "$prec" "$ckpt" <<'PY'
import json, os, subprocess, sys, threading, time
from specgen.engine import nvml
name, gpu, enc, crop, bs, prec, ckpt = sys.argv[1:8]
peak, stop = [0], threading.Event()
def sample():
    while not stop.is_set():
        for s in nvml.sample([int(gpu)]):
            peak[0] = max(peak[0], s.memory_used)
        time.sleep(0.25)
base = nvml.sample([int(gpu)])[0].memory_used
t = threading.Thread(target=sample, daemon=True); t.start()
t0 = time.time()
p = subprocess.run([sys.executable, "-m", "specgen.cli", "run", "train", "-e", f"/tmp/dn-mem/{name}.yaml", "--backend",
                    "local", "--gpus", gpu, "--json-events"], capture_output=True, text=True)
stop.set(); t.join()
v = next((json.loads(l) for l in reversed(p.stdout.splitlines()) if '"verdict"' in l), {})
print(json.dumps({"name": name, "encoder": enc, "crop": int(crop), "batch": int(bs), "precision": prec,
                  "activation_checkpoint": ckpt == "true", "peak_gib": round((peak[0] - base) / 2**30, 2),
                  "verdict": "PASS" if v.get("passed") else "FAIL", "reason": (v.get("reason") or "")[:160],
                  "wall_s": round(time.time() - t0, 1)}), flush=True)
PY
}
if [ "${5:-}" = more ]; then
  ( measure l_b4_c322 0 vitl 322 4 fp32 false; measure s_b8 0 vits 476 8 fp32 false ) > $OUT/gpu0.jsonl &
  ( measure l_b4_fp16 1 vitl 476 4 fp16 false; measure b_b8 1 vitb 476 8 fp32 false ) > $OUT/gpu1.jsonl &
else
  ( measure s_b4 0 vits 476 4 fp32 false; measure b_b4 0 vitb 476 4 fp32 false; measure l_b4 0 vitl 476 4 fp32 false ) > $OUT/gpu0.jsonl &
  ( measure l_b4_bf16 1 vitl 476 4 bf16 false; measure l_b4_ckpt 1 vitl 476 4 fp32 true; measure l_b8 1 vitl 476 8 fp32 false ) > $OUT/gpu1.jsonl &
fi
wait
cat $OUT/gpu0.jsonl $OUT/gpu1.jsonl
