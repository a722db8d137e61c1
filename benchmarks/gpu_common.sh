#!/usr/bin/env bash
# Shared by the GPU scripts (gpu_e2e, gpu_scale, gpu_memory, gpu_setup, gpu_sweep1; sourced, not run): the arguments
# SITE WHEELS REDWOOD OUT, our CLI's wheels next to the TAO site, a `depth_net` on PATH that runs NVIDIA's entrypoint,
# and the Redwood pairs laid out as TAO wants them.
SITE=$(readlink -f "$1"); WHEELS=$(readlink -f "$2"); REDWOOD=$(readlink -f "$3"); OUT=$(readlink -f "$4")
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$OUT" /tmp/dn-site
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/dn-site "$WHEELS"/*.whl 2>/dev/null || exit 1
export PYTHONPATH="$REPO:/tmp/dn-site:$SITE" PYTHONUNBUFFERED=1 XDG_DATA_HOME=$OUT/xdg XDG_CONFIG_HOME=$OUT/cfg OUT
command -v python >/dev/null || ln -s "$(command -v python3)" /usr/local/bin/python
printf '#!%s\nimport sys\nfrom nvidia_tao_pytorch.cv.depth_net.entrypoint.depth_net import main\nsys.exit(main())\n' \
  "$(command -v python3)" > /usr/local/bin/depth_net && chmod +x /usr/local/bin/depth_net
dn() { python3 -m specgen.cli "$@"; }

# redwood_data COPIES [val]: /data/redwood/train/scene holds each of the 3 Redwood pairs COPIES times under new names;
# with "val", /data/redwood/val/scene holds the 3 originals.
redwood_data() {
  D=/data/redwood; rm -rf $D; mkdir -p $D/train/scene
  [ "${2:-}" = val ] && mkdir -p $D/val/scene
  for i in 0 1 2; do
    [ "${2:-}" = val ] && cp "$REDWOOD/rgb_0000$i.jpg" "$REDWOOD/sync_depth_0000$i.png" $D/val/scene/
    for k in $(seq 0 $(($1 - 1))); do
      cp "$REDWOOD/rgb_0000$i.jpg" $D/train/scene/rgb_$k$i.jpg; cp "$REDWOOD/sync_depth_0000$i.png" $D/train/scene/sync_depth_$k$i.png
    done
  done
}

# two_epoch_spec W RESULTS SPEC: Redwood pairs (4 copies to train on, the originals to validate on), their annotation
# files under W, and a two-epoch vits sanity train spec at SPEC writing to RESULTS (random init, batch 1, seed 1234).
two_epoch_spec() {
  redwood_data 4 val
  dn convert --data-root $D/train --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $1/ann_train >/dev/null
  dn convert --data-root $D/val --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $1/ann_val >/dev/null
  dn spec train --encoder vits --recipe sanity --dataset-name NYUDV2 --data-file $1/ann_train/test.txt \
    --val-data-file $1/ann_val/test.txt --results-dir $2 --set model.mono_backbone.pretrained_path=null \
    --set train.pretrained_model_path=null --set train.num_epochs=2 --set train.checkpoint_interval=1 \
    --set train.validation_interval=1 --set dataset.train_dataset.batch_size=1 --set dataset.val_dataset.batch_size=1 \
    --set train.seed=1234 -o $3 --force
}
