#!/usr/bin/env bash
# GPU memory calibration (not CI): peak GPU memory of real TAO 7.3.0 depth_net training for several encoders, batch
# sizes, precisions and activation checkpointing, measured with NVML (the memory the process holds, CUDA context and
# allocator cache included: what must fit). Each GPU runs one configuration at a time, the configurations dealt
# round-robin over the GPUs nvidia-smi sees (one lane on the stand-in). The figures (OUT/gpu*.jsonl) went to
# benchmarks/gpu_memory_points.json, which specgen/job/memory_fit.py is fitted to.
#
#   benchmarks/gpu_memory.sh SITE WHEELS REDWOOD OUT [more]   (as gpu_e2e.sh; "more": the second set of points)
set -uo pipefail
. "$(dirname "$0")/gpu_common.sh" "$@"
need_gpus 1
gpu_info
redwood_data 8
work_dir mem
dn convert --data-root $D/train --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $W/ann >/dev/null

# Known failures (bf16 train crashes in TAO 7.3.0) are measured on purpose: the door is told so.
measure() {  # measure NAME GPU ENCODER CROP BATCH PRECISION CHECKPOINT
  local name=$1 gpu=$2 enc=$3 crop=$4 bs=$5 prec=$6 ckpt=$7
  dn spec train --encoder "$enc" --recipe sanity --dataset-name NYUDV2 --data-file $W/ann/test.txt \
    --val-data-file $W/ann/test.txt --results-dir $W/$name --set model.mono_backbone.pretrained_path=null \
    --set train.pretrained_model_path=null --set train.num_epochs=1 --set "dataset.train_dataset.batch_size=$bs" \
    --set "dataset.train_dataset.augmentation.crop_size=[$crop,$crop]" --set "train.precision=$prec" \
    --set "train.activation_checkpoint=$ckpt" --set train.validation_interval=1 -o $W/$name.yaml --force \
    --allow-known-failure >/dev/null 2>&1 \
    || { echo "{\"name\": \"$name\", \"error\": \"spec\"}"; return; }
  python3 - "$name" "$gpu" "$enc" "$crop" "$bs" "$prec" "$ckpt" "$W" <<'PY'
import json, os, subprocess, sys, threading, time
from specgen.engine import nvml
name, gpu, enc, crop, bs, prec, ckpt, work = sys.argv[1:9]
peak, stop = [0], threading.Event()
def sample():
    while not stop.is_set():
        for s in nvml.sample([int(gpu)]):
            peak[0] = max(peak[0], s.memory_used)
        time.sleep(0.25)
base = next((s.memory_used for s in nvml.sample([int(gpu)])), 0)  # no NVML (the stand-in): 0, and a peak of 0
t = threading.Thread(target=sample, daemon=True); t.start()
t0 = time.time()
p = subprocess.run([sys.executable, "-m", "specgen.cli", "run", "train", "-e", f"{work}/{name}.yaml", "--backend",
                    "local", "--gpus", gpu, "--json-events", "--allow-known-failure"], capture_output=True, text=True)
stop.set(); t.join()
v = next((json.loads(l) for l in reversed(p.stdout.splitlines()) if '"verdict"' in l), {})
print(json.dumps({"name": name, "encoder": enc, "crop": int(crop), "batch": int(bs), "precision": prec,
                  "activation_checkpoint": ckpt == "true", "peak_gib": round((peak[0] - base) / 2**30, 2),
                  "verdict": "PASS" if v.get("passed") else "FAIL", "reason": (v.get("reason") or "")[:160],
                  "wall_s": round(time.time() - t0, 1)}), flush=True)
PY
}
# NAME ENCODER CROP BATCH PRECISION CHECKPOINT, one configuration a line.
if [ "${5:-}" = more ]; then
  CONFIGS="l_b4_c322 vitl 322 4 fp32 false
s_b8 vits 476 8 fp32 false
l_b4_fp16 vitl 476 4 fp16 false
b_b8 vitb 476 8 fp32 false"
else
  CONFIGS="s_b4 vits 476 4 fp32 false
b_b4 vitb 476 4 fp32 false
l_b4 vitl 476 4 fp32 false
l_b4_bf16 vitl 476 4 bf16 false
l_b4_ckpt vitl 476 4 fp32 true
l_b8 vitl 476 8 fp32 false"
fi
LANES=$(gpu_count); [ "$LANES" -ge 1 ] || LANES=1
for gpu in $(seq 0 $((LANES - 1))); do
  printf '%s\n' "$CONFIGS" | awk -v n="$LANES" -v g="$gpu" '(NR - 1) % n == g' | while read -r name enc crop bs prec ckpt; do
    measure "$name" "$gpu" "$enc" "$crop" "$bs" "$prec" "$ckpt"
  done > "$OUT/gpu$gpu.jsonl" &
done
wait
cat "$OUT"/gpu*.jsonl
