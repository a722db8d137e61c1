#!/usr/bin/env bash
# Fine-tuning from real weights on the REAL TAO 7.3.0 (not CI): a short TAO train gives a Lightning checkpoint; with
# torch, a public-layout file (`model.` stripped) and a bare DINOv2 file (`model.pretrained.` stripped) are made from
# it (as ../shared/fixtures/checkpoints/README.md says); then through `depthnet spec … --checkpoint` and
# `depthnet run --backend local`, three fine-tunes at once on one GPU — Relative from the public file, Metric from the
# public file, Relative from the DINOv2 file (the fresh-head recipe) — each expected PASS; three refusals each
# expected in < 2 s (the public file as a Relative backbone, a Relative TAO checkpoint as a Metric whole model,
# another encoder); strip-ddp checked by torch.load; and `depthnet weights inspect` timed on a real ~1.3 GB ViT-L
# torch file (random tensors of the public layout's shapes, facts §7).
#
#   benchmarks/gpu_finetune.sh [--dry] SITE WHEELS REDWOOD OUT [ENCODER]   (as gpu_e2e.sh; ENCODER default vitb)
#     --dry (or GPU_DRY=1, or no torch): the TAO stand-in (tests/emulator/depth_net) instead of TAO, the files made
#     from tests/fixtures/checkpoints without torch — what CI runs.
# Prints per case: key written, verdict, first val/abs_rel, seconds; writes $OUT/finetune.tsv and $OUT/finetune.json.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DRY=${GPU_DRY:-0}
[ "${1:-}" = --dry ] && { DRY=1; shift; }
[ "$DRY" = 0 ] && ! python3 -c "import torch" 2>/dev/null && DRY=1
ENC=${5:-vitb}
if [ "$DRY" = 1 ]; then
  # The stand-in as every GPU script has it (gpu_common.sh: the work folders under OUT, dn, redwood_data), and the
  # tests' folder on the path for the checkpoint fixtures.
  DEPTHNET_GPU_STANDIN=1 . "$HERE/gpu_common.sh" "$1" "$2" "$3" "$4"
  export PYTHONPATH="$PYTHONPATH:$REPO/tests"
  [ "$ENC" = vitb ] || ENC=vitb  # the fixtures hold vitb files of every layout
else
  . "$HERE/gpu_common.sh" "$1" "$2" "$3" "$4"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
fi
work_dir finetune; mkdir -p "$W/files"
redwood_data 4 val
dn convert --data-root $D/train --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $W/ann_train >/dev/null
dn convert --data-root $D/val --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $W/ann_val >/dev/null
# Two epochs at seed 42 and lr 5e-6: on an H200 a fresh Relative head at TAO's default seed 1234 starts dead (ReLU
# output 0 everywhere, the same train_loss to ten digits, val/abs_rel NaN, δ1 0) at every lr from 5e-6 to 1e-4 and at
# crop 224 and 518; seeds 7 and 42 learn at 5e-6, and seed 7 dies during training at 1e-4 (benchmarks/gpu_lr_probe.sh).
# The base run must be alive, or every file made from it below starts from a dead head.
SHORT=(--set train.num_epochs=2 --set train.checkpoint_interval=1 --set train.validation_interval=1
       --set dataset.train_dataset.batch_size=2 --set dataset.val_dataset.batch_size=1 --set train.seed=42
       --set train.optim.lr=5e-6
       --set dataset.train_dataset.augmentation.crop_size=[224,224] --set dataset.val_dataset.augmentation.crop_size=[224,224])
spec() {  # spec NAME MODEL_TYPE CLASS ARGS… → $W/NAME.yaml (its header says the start)
  local name=$1 mt=$2 cls=$3; shift 3
  dn spec train --model-type $mt --dataset-name $cls --recipe sanity --data-file $W/ann_train/test.txt \
    --val-data-file $W/ann_val/test.txt --results-dir $W/$name "${SHORT[@]}" "$@" -o $W/$name.yaml --force
}
run() {  # run NAME: depthnet run train, the verdict and the first val/abs_rel into $W/NAME.result.json
  local t0; t0=$(date +%s.%N)  # a local run reads what this machine's user can read: no --data-root needed
  "${DN[@]}" run train -e $W/$1.yaml --backend local --json-events > $W/$1.events 2> $W/$1.stderr
  local rc=$?
  python3 - "$1" "$rc" "$t0" "$W" <<'PY' > $W/$1.result.json
import glob, json, math, sys, time, yaml
name, rc, t0, w = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
spec = yaml.safe_load(open(f"{w}/{name}.yaml"))
key = ("train.pretrained_model_path" if (spec.get("train") or {}).get("pretrained_model_path")
       else "model.mono_backbone.pretrained_path" if ((spec.get("model") or {}).get("mono_backbone") or {}).get("pretrained_path")
       else None)
header = open(f"{w}/{name}.yaml").readline().strip()
verdict = next((json.loads(l) for l in reversed(open(f"{w}/{name}.events").read().splitlines()) if '"verdict"' in l), {})
vals = []  # (val/abs_rel, val/d1) per validation; NaN as None
for path in glob.glob(f"{w}/{name}/train/status.json"):
    for line in open(path):
        try:
            kpi = json.loads(line.replace("NaN", "null")).get("kpi") or {}
        except ValueError:
            continue
        if "val/abs_rel" in kpi:
            vals.append((kpi["val/abs_rel"], kpi.get("val/d1")))
abs_rel = vals[0][0] if vals else None
last = vals[-1] if vals else (None, None)
dead = bool(vals) and all(a is None and not d for a, d in vals)  # no valid prediction at any validation
lr = ((spec.get("train") or {}).get("optim") or {}).get("lr")
seed = (spec.get("train") or {}).get("seed")
print(json.dumps({"case": name, "key": key, "verdict": "PASS" if verdict.get("passed") else "FAIL", "exit": rc,
                  "first_val_abs_rel": abs_rel, "last_val_abs_rel": last[0], "last_val_d1": last[1],
                  "head": "dead" if dead else "alive" if vals else None, "lr": lr, "seed": seed,
                  "seconds": round(time.time() - t0, 1), "reason": verdict.get("reason"), "header": header}))
PY
}

# 1. a short TAO train: the Relative checkpoint every file below comes from
spec base RelativeDepthAnything NYUDV2Relative --encoder $ENC >/dev/null 2>$W/base.spec.err || { cat $W/base.spec.err; exit 1; }
run base
TAO_REL=$(python3 -c "from specgen.job.chain import find_checkpoint; print(find_checkpoint('$W/base/train'))" 2>/dev/null)
PUBLIC=$W/files/depth_anything_v2_$ENC.pth; DINO=$W/files/dinov2_${ENC}14_pretrain.pth; DDP=$W/files/ddp_$ENC.pth
if [ "$DRY" = 1 ]; then
  TAO_REL=$REPO/tests/fixtures/checkpoints/tao_relative_vitb.pth  # the stand-in's checkpoints are empty placeholders
  cp "$REPO/tests/fixtures/checkpoints/public_layout_vitb.pth" "$PUBLIC"
  cp "$REPO/tests/fixtures/checkpoints/dinov2_layout_vitb.pth" "$DINO"
  python3 -c "
from torchzip import state_dict, write_torch_zip
from specgen.data.checkpoints import expected_shapes
write_torch_zip('$DDP', state_dict(expected_shapes('vitb'), prefix='module.', meta=True))"
else
  python3 - "$TAO_REL" "$PUBLIC" "$DINO" "$DDP" <<'PY'
import sys, torch
ckpt = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
sd = ckpt["state_dict"]
public = {k[len("model."):]: v for k, v in sd.items() if k.startswith("model.")}
torch.save(public, sys.argv[2])
torch.save({k[len("model.pretrained."):]: v for k, v in sd.items() if k.startswith("model.pretrained.")}, sys.argv[3])
torch.save({"module." + k: v for k, v in public.items()}, sys.argv[4])
PY
fi
for f in "$TAO_REL" "$PUBLIC" "$DINO"; do dn weights inspect "$f" | head -n 1; done

# 2. strip-ddp, checked by torch.load where torch is
dn weights strip-ddp "$DDP" -o $W/files/ddp_stripped.pth --force
[ "$DRY" = 0 ] && python3 -c "
import torch; sd = torch.load('$W/files/ddp_stripped.pth', map_location='cpu'); print('strip-ddp: torch.load ok,', len(sd), 'tensors,', next(iter(sd)))"

# 3. the fine-tunes at once on one GPU: whole model (Relative, Metric), backbone only (a fresh Relative head) at
#    seed 42 with lr 5e-6 and 5e-5, and at TAO's default seed 1234 with lr 5e-6 (a probe: dead at init before)
FT=(rel_public met_public rel_dino rel_dino_5e-5 rel_dino_s1234)
spec rel_public RelativeDepthAnything NYUDV2Relative --checkpoint "$PUBLIC" 2>$W/rel_public.spec.err &&
spec met_public MetricDepthAnything NYUDV2 --checkpoint "$PUBLIC" 2>$W/met_public.spec.err &&
spec rel_dino RelativeDepthAnything NYUDV2Relative --checkpoint "$DINO" 2>$W/rel_dino.spec.err &&
spec rel_dino_5e-5 RelativeDepthAnything NYUDV2Relative --checkpoint "$DINO" --set train.optim.lr=5e-5 2>$W/rel_dino_5e-5.spec.err &&
spec rel_dino_s1234 RelativeDepthAnything NYUDV2Relative --checkpoint "$DINO" --set train.seed=1234 2>$W/rel_dino_s1234.spec.err ||
  { cat $W/*.spec.err; exit 1; }
for c in "${FT[@]}"; do echo "== $c: $(head -n 1 $W/$c.yaml)"; cat $W/$c.spec.err; done
for c in "${FT[@]}"; do run $c & done
wait

# 4. refusals, each timed (expected: exit 1, one line, < 2 s)
refuse() {  # refuse NAME ARGS…
  local name=$1; shift; local t0 t1; t0=$(date +%s.%N)
  dn spec train --data-file $W/ann_train/test.txt --val-data-file $W/ann_val/test.txt --results-dir $W/$name "$@" -o $W/$name.yaml --force 2>$W/$name.err >/dev/null
  local rc=$?; t1=$(date +%s.%N)
  python3 -c "import json,sys; print(json.dumps({'case': '$name', 'key': None, 'verdict': 'REFUSED' if $rc == 1 else 'NOT REFUSED', 'exit': $rc, 'first_val_abs_rel': None, 'seconds': round($t1 - $t0, 2), 'reason': open('$W/$name.err').read().strip().splitlines()[-1] if open('$W/$name.err').read().strip() else None}))" > $W/$name.result.json
}
refuse refuse_public_as_backbone --model-type RelativeDepthAnything --dataset-name NYUDV2Relative --encoder $ENC --set "model.mono_backbone.pretrained_path=$PUBLIC"
refuse refuse_relative_ckpt_as_metric_whole --model-type MetricDepthAnything --dataset-name NYUDV2 --encoder $ENC --set "train.pretrained_model_path=$TAO_REL"
OTHER=vits; [ "$ENC" = vits ] && OTHER=vitb
refuse refuse_other_encoder --model-type RelativeDepthAnything --dataset-name NYUDV2Relative --checkpoint "$PUBLIC" --encoder $OTHER

# 5. inspect on a real ~1.3 GB ViT-L torch file (random tensors of the public layout; torch here, torchzip in --dry)
BIG=$W/files/depth_anything_v2_vitl_random.pth
if [ "$DRY" = 1 ]; then
  python3 "$HERE/inspect_bench.py" --encoder vits --repeat 3 | tee $OUT/inspect_bench.txt
else
  python3 - "$BIG" <<'PY'
import sys, torch
from specgen.data.checkpoints import expected_shapes
torch.save({k: torch.randn(s) for k, s in expected_shapes("vitl", "public").items()}, sys.argv[1])
PY
  ls -la "$BIG"
  T0=$(date +%s.%N); dn weights inspect "$BIG" --json > $OUT/inspect_vitl.json; T1=$(date +%s.%N)
  echo "depthnet weights inspect (whole CLI): $(python3 -c "print(round($T1 - $T0, 2))") s"
  python3 "$HERE/inspect_bench.py" --file "$BIG" --repeat 5 | tee $OUT/inspect_bench.txt
fi

echo "== summary (case, key written, verdict, first val/abs_rel, seconds)"
python3 - "$W" "$OUT" <<'PY'
import glob, json, sys
w, out = sys.argv[1:3]
order = ["base", "rel_public", "met_public", "rel_dino", "rel_dino_5e-5", "rel_dino_s1234", "refuse_public_as_backbone",
         "refuse_relative_ckpt_as_metric_whole", "refuse_other_encoder"]
rows = [json.load(open(f"{w}/{c}.result.json")) for c in order if glob.glob(f"{w}/{c}.result.json")]
with open(f"{out}/finetune.tsv", "w") as f:
    f.write("case\tkey\tlr\tseed\tverdict\thead\tfirst_val_abs_rel\tlast_val_abs_rel\tlast_val_d1\tseconds\n")
    for r in rows:
        line = "\t".join(str(r.get(k)) for k in ("case", "key", "lr", "seed", "verdict", "head", "first_val_abs_rel",
                                                 "last_val_abs_rel", "last_val_d1", "seconds"))
        f.write(line + "\n")
        print(line + (f"\t{r['reason']}" if r.get("reason") and r["verdict"] != "PASS" else ""))
json.dump(rows, open(f"{out}/finetune.json", "w"), indent=1)
expected = {"base": "PASS", "rel_public": "PASS", "met_public": "PASS", "rel_dino": "PASS"}  # and alive
bad = [r["case"] for r in rows if r["case"] in expected and (r["verdict"] != "PASS" or r.get("head") == "dead")]
# a dead head must never be called PASS (the verdict's NaN rule), whatever the case
bad += [r["case"] for r in rows if r.get("head") == "dead" and r["verdict"] == "PASS"]
bad += [r["case"] for r in rows if r["case"].startswith("refuse") and (r["verdict"] != "REFUSED" or r["seconds"] >= 2)]
print("ALL AS EXPECTED" if not bad and len(rows) == len(order) else f"NOT AS EXPECTED: {bad or 'missing cases'}")
PY
