#!/usr/bin/env bash
# Shared by the GPU scripts (benchmarks/gpu_*.sh; sourced, not run). The interface every script follows is in
# benchmarks/README.md: the arguments SITE WHEELS REDWOOD OUT, and DEPTHNET_GPU_STANDIN=1 for a run without a GPU
# against the TAO stand-in (tests/emulator/depth_net), which CI does for every script (tests/test_gpu_scripts.py).
#
# Sets: REPO, OUT, WORK (the root of the scripts' work folders, outside OUT: checkpoints are large), STANDIN (1 or
# 0), STANDIN_ENV (extra `depthnet run` arguments for the stand-in, empty on a GPU); puts `depth_net` (NVIDIA's
# entrypoint on the TAO site, or the stand-in) and `python` on PATH. Functions: dn, gpu_count, gpu_ids, gpu_info,
# with_sigint, need_gpus, work_dir, redwood_data, two_epoch_spec.
SITE=$1; WHEELS=$2; REDWOOD=$(readlink -f "$3"); OUT=$(readlink -f "$4")
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STANDIN=${DEPTHNET_GPU_STANDIN:-0}
mkdir -p "$OUT"
WORK=${DEPTHNET_GPU_WORK:-$([ "$STANDIN" = 1 ] && echo "$OUT/work" || echo /tmp/dn-gpu)}
mkdir -p "$WORK/bin"
if [ "$STANDIN" = 1 ]; then
  # No GPU, no TAO: the stand-in replays real TAO 7.3.0 captures; python3 is the caller's (its venv has our deps).
  ln -sfn "$REPO/tests/emulator/depth_net" "$WORK/bin/depth_net"
  export PYTHONPATH="$REPO" EMU_SPEED="${EMU_SPEED:-0.01}"
  STANDIN_ENV=(--env EMU_SPEED=0.2)  # runs a script stops or interrupts must outlive the signal
else
  SITE=$(readlink -f "$SITE"); WHEELS=$(readlink -f "$WHEELS")
  mkdir -p "$WORK/site"
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "$WHEELS"/*.whl 2>/dev/null || exit 1
  export PYTHONPATH="$REPO:$WORK/site:$SITE"
  printf '#!%s\nimport sys\nfrom nvidia_tao_pytorch.cv.depth_net.entrypoint.depth_net import main\nsys.exit(main())\n' \
    "$(command -v python3)" > "$WORK/bin/depth_net" && chmod +x "$WORK/bin/depth_net"
  STANDIN_ENV=()
fi
command -v python >/dev/null || ln -sfn "$(command -v python3)" "$WORK/bin/python"
export PATH="$WORK/bin:$PATH" PYTHONUNBUFFERED=1 XDG_DATA_HOME=$OUT/xdg XDG_CONFIG_HOME=$OUT/cfg OUT
# DN: the depthnet CLI as a command; DEPTHNET_GPU_CLI, when set, names one executable to use instead (the suite's
# warm starter, tests/test_gpu_scripts.py). dn ARGS…: that command.
if [ -n "${DEPTHNET_GPU_CLI:-}" ]; then DN=("$DEPTHNET_GPU_CLI"); else DN=(python3 -m specgen.cli); fi
dn() { "${DN[@]}" "$@"; }
# with_sigint CMD…: CMD with SIGINT at its default. A script started as a background job (`script &`, no job
# control) has SIGINT ignored, its runs inherit that, and no shell can trap it again: a Ctrl-C test would not be one.
with_sigint() { python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"; }

# GPUs as nvidia-smi sees them (any NVIDIA kind; none on the stand-in).
gpu_count() { if [ "$STANDIN" = 1 ]; then echo 0; else nvidia-smi --query-gpu=index --format=csv,noheader | wc -l; fi; }
# gpu_ids N: the first N GPU indices, comma-separated (the stand-in takes any: it has no GPU to fill).
gpu_ids() { seq -s, 0 $(($1 - 1)); }
# gpu_info: one line per GPU into $OUT/gpu.txt and on screen.
gpu_info() {
  if [ "$STANDIN" = 1 ]; then echo "no GPU: the TAO stand-in (DEPTHNET_GPU_STANDIN=1)" | tee "$OUT/gpu.txt"
  else nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"; fi
}
# need_gpus N: stop with one clear line when this machine has fewer (never on the stand-in).
need_gpus() {
  [ "$STANDIN" = 1 ] || [ "$(gpu_count)" -ge "$1" ] && return 0
  echo "$(basename "$0"): needs $1 GPUs, nvidia-smi sees $(gpu_count)" >&2; exit 2
}
# work_dir NAME: W=$WORK/NAME, emptied.
work_dir() { W=$WORK/$1; rm -rf "$W"; mkdir -p "$W"; }

# redwood_data COPIES [val]: $D/train/scene holds each of the 3 Redwood pairs COPIES times under new names;
# with "val", $D/val/scene holds the 3 originals. D=$WORK/redwood.
redwood_data() {
  D=$WORK/redwood; rm -rf "$D"; mkdir -p "$D/train/scene"
  [ "${2:-}" = val ] && mkdir -p "$D/val/scene"
  for i in 0 1 2; do
    [ "${2:-}" = val ] && cp "$REDWOOD/rgb_0000$i.jpg" "$REDWOOD/sync_depth_0000$i.png" "$D/val/scene/"
    for k in $(seq 0 $(($1 - 1))); do
      cp "$REDWOOD/rgb_0000$i.jpg" "$D/train/scene/rgb_$k$i.jpg"; cp "$REDWOOD/sync_depth_0000$i.png" "$D/train/scene/sync_depth_$k$i.png"
    done
  done
}

# two_epoch_spec W RESULTS SPEC: Redwood pairs (4 copies to train on, the originals to validate on), their annotation
# files under W, and a two-epoch vits sanity train spec at SPEC writing to RESULTS (random init, batch 1, seed 1234).
two_epoch_spec() {
  redwood_data 4 val
  dn convert --data-root "$D/train" --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out "$1/ann_train" >/dev/null
  dn convert --data-root "$D/val" --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out "$1/ann_val" >/dev/null
  dn spec train --encoder vits --recipe sanity --dataset-name NYUDV2 --data-file "$1/ann_train/test.txt" \
    --val-data-file "$1/ann_val/test.txt" --results-dir "$2" --set model.mono_backbone.pretrained_path=null \
    --set train.pretrained_model_path=null --set train.num_epochs=2 --set train.checkpoint_interval=1 \
    --set train.validation_interval=1 --set dataset.train_dataset.batch_size=1 --set dataset.val_dataset.batch_size=1 \
    --set train.seed=1234 -o "$3" --force
}
