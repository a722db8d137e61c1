#!/usr/bin/env bash
# What a fresh head needs, measured on the REAL TAO 7.3.0 (not CI). A Relative head ends in a ReLU: it can start
# dead (every prediction 0, no gradient, the loss the same to ten digits at every lr, val/abs_rel NaN and δ1 = 0 —
# TAO prints PASS). On an H200, vitb, crop 224, seed 1234, every Relative start from random weights or a backbone only
# was dead at every lr from 5e-6 to 1e-4, while the 2-epoch capture c_rel_vitb_train (seed 7, crop 518, lr 5e-6)
# learned. This separates the seed, the crop and the lr. Cases run concurrently on one GPU:
#   rel_s<SEED>_c<CROP>_<lr>   Relative, random init (seed 1234 / 7 / 42 at crop 224; seed 1234 at 518; lr 5e-6, and
#                              1e-4 at seed 7)
#   met_none_<lr>              Metric (NYUDV2), random init, at 1e-4 / 5e-6
#
#   benchmarks/gpu_lr_probe.sh SITE WHEELS REDWOOD OUT [ENCODER]   (benchmarks/README.md; ENCODER default vitb)
# Prints per case: lr, verdict, val/abs_rel and δ1 per epoch, train_loss per epoch, whether the head was dead;
# OUT/lr_probe.tsv.
set -uo pipefail
. "$(dirname "$0")/gpu_common.sh" "$@"
need_gpus 1
gpu_info
ENC=${5:-vitb}
[ "$STANDIN" = 1 ] && ENC=vitb
work_dir lr_probe
redwood_data 4 val
dn convert --data-root $D/train --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $W/ann_train >/dev/null
dn convert --data-root $D/val --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $W/ann_val >/dev/null
COMMON=(--set train.num_epochs=2 --set train.checkpoint_interval=1 --set train.validation_interval=1
        --set dataset.train_dataset.batch_size=2 --set dataset.val_dataset.batch_size=1 --set train.seed=1234
        --set dataset.train_dataset.workers=2 --set dataset.val_dataset.workers=1)
spec() {  # spec NAME MODEL_TYPE CLASS LR ARGS…
  local name=$1 mt=$2 cls=$3 lr=$4; shift 4
  dn spec train --model-type $mt --dataset-name $cls --encoder $ENC --recipe sanity --data-file $W/ann_train/test.txt \
    --val-data-file $W/ann_val/test.txt --results-dir $W/$name "${COMMON[@]}" --set train.optim.lr=$lr \
    --set train.optim.lr_scheduler=LambdaLR "$@" -o $W/$name.yaml --force >/dev/null 2>$W/$name.spec.err \
    || { cat $W/$name.spec.err; return 1; }
}
run() {  # run NAME: the product drives TAO; the verdict line goes to NAME.verdict
  dn run train -e $W/$1.yaml --backend local --data-root $W --data-root $D --json-events > $W/$1.events 2> $W/$1.stderr
  grep '"kind": "verdict"' $W/$1.events | tail -n 1 > $W/$1.verdict
}

CROP224=(--set dataset.train_dataset.augmentation.crop_size=[224,224] --set dataset.val_dataset.augmentation.crop_size=[224,224])
CROP518=(--set dataset.train_dataset.augmentation.crop_size=[518,518] --set dataset.val_dataset.augmentation.crop_size=[518,518])
CASES=()
add() { spec "$@" && CASES+=("$1"); }  # add NAME MODEL CLASS LR ARGS…
if [ "$STANDIN" = 1 ]; then  # the stand-in replays the same captures whatever the case: two cases check the script
  add rel_s7_c224_5e-6 RelativeDepthAnything NYUDV2Relative 5e-6 --set train.seed=7 "${CROP224[@]}"
  add met_none_5e-6 MetricDepthAnything NYUDV2 5e-6 "${CROP224[@]}"
else
  for seed in 1234 7 42; do
    add rel_s${seed}_c224_5e-6 RelativeDepthAnything NYUDV2Relative 5e-6 --set train.seed=$seed "${CROP224[@]}"
  done
  add rel_s1234_c518_5e-6 RelativeDepthAnything NYUDV2Relative 5e-6 "${CROP518[@]}"
  add rel_s7_c224_1e-4 RelativeDepthAnything NYUDV2Relative 1e-4 --set train.seed=7 "${CROP224[@]}"
  for lr in 1e-4 5e-6; do add met_none_$lr MetricDepthAnything NYUDV2 $lr "${CROP224[@]}"; done
fi
for c in "${CASES[@]}"; do run $c & done
wait

echo "== lr probe (case, lr, verdict, val/abs_rel per epoch, δ1 per epoch, train_loss per epoch, head dead?)"
python3 - "$W" "$OUT" "${CASES[@]}" <<'PY'
import json, math, sys, yaml
w, out, cases = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = []
for c in cases:
    lr = ((yaml.safe_load(open(f"{w}/{c}.yaml")).get("train") or {}).get("optim") or {}).get("lr", 1e-4)  # TAO's default
    try:
        v = json.loads(open(f"{w}/{c}.verdict").read() or "{}")
    except ValueError:
        v = {}
    absrel, d1, loss = [], [], []
    try:
        for line in open(f"{w}/{c}/train/status.json"):
            try:
                kpi = json.loads(line).get("kpi") or {}
            except ValueError:
                continue
            if "epoch" not in line:
                continue
            if "val/abs_rel" in kpi:
                absrel.append(kpi["val/abs_rel"]); d1.append(kpi["val/d1"])
    except OSError:
        pass
    try:
        for line in open(f"{w}/{c}/train/status.json"):
            if "Train metrics generated" in line:
                loss.append(json.loads(line)["kpi"]["train_loss"])
    except (OSError, ValueError, KeyError):
        pass
    dead = any(isinstance(a, float) and math.isnan(a) for a in absrel) and all(x == 0 for x in d1)
    fmt = lambda xs: ",".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in xs) or "-"
    row = [c, f"{lr:g}", "PASS" if v.get("passed") else "FAIL", fmt(absrel), fmt(d1), fmt(loss), "dead" if dead else "alive"]
    rows.append(row)
    print("\t".join(row) + "\t" + (v.get("reason") or "")[:160])
with open(f"{out}/lr_probe.tsv", "w") as f:
    f.write("case\tlr\tverdict\tval_abs_rel\tval_d1\ttrain_loss\thead\n")
    f.writelines("\t".join(r) + "\n" for r in rows)
PY
