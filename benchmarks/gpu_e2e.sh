#!/usr/bin/env bash
# GPU end to end (not CI): the product's own `depthnet run --backend local` driving the REAL TAO 7.3.0 depth_net on a
# GPU machine: train → evaluate → inference → export on the Redwood RGB-D samples, plus the NaN trap
# (MetricMonoDataset on millimetre PNGs). Each must get the expected verdict; the live chart must get per-step
# points from the TensorBoard event file. Prints the time to the first chart point and the monitor's CPU per GPU step.
#
#   benchmarks/gpu_e2e.sh SITE WHEELS REDWOOD OUT      (the arguments and the stand-in mode: benchmarks/README.md)
# Needs python3 with torch, pytorch-lightning, timm, opencv, matplotlib (the device image has them). One GPU.
set -uo pipefail
. "$(dirname "$0")/gpu_common.sh" "$@"
need_gpus 1
gpu_info

# Data as TAO wants it: 12 train pairs (each Redwood pair 4×, new names) and the 3 originals for validation.
redwood_data 4 val
work_dir e2e  # checkpoints are 300 MB each: kept out of OUT
dn convert --data-root $D/train --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $W/ann_train >/dev/null
dn convert --data-root $D/val --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $W/ann_val >/dev/null
RANDOM_INIT=(--set model.mono_backbone.pretrained_path=null --set train.pretrained_model_path=null
             --set train.num_epochs=2 --set train.checkpoint_interval=1 --set train.validation_interval=1
             --set dataset.train_dataset.batch_size=1 --set dataset.val_dataset.batch_size=1 --set train.seed=1234)
# The NaN trap is built on purpose: the door holds it unless told that the failure is known.
dn spec train --encoder vits --recipe sanity --dataset-name NYUDV2 --data-file $W/ann_train/test.txt \
  --val-data-file $W/ann_val/test.txt --results-dir $W/healthy "${RANDOM_INIT[@]}" -o $W/healthy.yaml --force || exit 1
dn spec train --encoder vits --recipe sanity --dataset-name MetricMonoDataset --data-file $W/ann_train/test.txt \
  --val-data-file $W/ann_val/test.txt --results-dir $W/nan "${RANDOM_INIT[@]}" -o $W/nan.yaml --force \
  --allow-known-failure || exit 1

# Run one action through the product; record each event line with its arrival time and sample our CPU time.
run() {  # run NAME ACTION SPEC [depthnet run arguments…]
  python3 - "$@" <<'PY'
import subprocess, sys, time, os, json
name, action, spec = sys.argv[1:4]
out = os.environ["OUT"]
t0 = time.time()
p = subprocess.Popen([sys.executable, "-m", "specgen.cli", "run", action, "-e", spec, "--backend", "local",
                      "--json-events", *sys.argv[4:]], stdout=subprocess.PIPE, stderr=open(f"{out}/{name}.stderr", "w"), text=True)
cpu, first, steps, lines = 0.0, None, 0, []
tick = os.sysconf("SC_CLK_TCK")
for line in p.stdout:
    now = time.time() - t0
    lines.append(f"{now:.3f}\t{line}")
    if '"step_loss"' in line:
        steps += 1
        first = first if first is not None else now
    try:
        with open(f"/proc/{p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick
    except OSError:
        pass
p.wait()
open(f"{out}/{name}.events.tsv", "w").writelines(lines)
verdict = next((json.loads(l.split("\t", 1)[1]) for l in reversed(lines) if '"verdict"' in l), {})
summary = {"name": name, "action": action, "exit": p.returncode, "wall_s": round(time.time() - t0, 1),
           "verdict": "PASS" if verdict.get("passed") else "FAIL", "reason": verdict.get("reason"),
           "chart_points": steps, "first_point_s": first, "monitor_cpu_s": round(cpu, 2),
           "monitor_cpu_ms_per_step": round(1000 * cpu / steps, 1) if steps else None,
           "kpi": verdict.get("kpi"), "epochs_completed": verdict.get("epochs_completed")}
print(json.dumps(summary))
PY
}
export OUT
run nan train $W/nan.yaml --allow-known-failure > $OUT/nan.json &
NANPID=$!
run train train $W/healthy.yaml > $OUT/train.json
RUN=$(python3 -c "import json,sys; print(json.load(open('$OUT/train.json'))['name'])")
TRAIN_ID=$(ls "$OUT/xdg/depthnet-tui/runs" | grep -- -train- | head -n 1)
for a in evaluate inference export; do
  dn next $W/healthy/train $a -o $W/$a.yaml >/dev/null 2>"$OUT/next_$a.err" || cat "$OUT/next_$a.err"
done
run evaluate evaluate $W/evaluate.yaml > $OUT/evaluate.json &
run inference inference $W/inference.yaml > $OUT/inference.json &
run export export $W/export.yaml > $OUT/export.json &
# Ctrl-C (SIGINT to the process group, as a terminal sends it) and `depthnet stop`, on real training runs.
for c in interrupt stop; do
  dn spec train --encoder vits --recipe sanity --dataset-name NYUDV2 --data-file $W/ann_train/test.txt \
    --val-data-file $W/ann_val/test.txt --results-dir $W/$c "${RANDOM_INIT[@]}" --set train.num_epochs=20 -o $W/$c.yaml --force >/dev/null 2>&1
  with_sigint "${DN[@]}" run train -e $W/$c.yaml --backend local --detach "${STANDIN_ENV[@]}" 2>"$OUT/$c.launch"
done
INT_ID=$(sed -n 's/^run \([^ ]*\) started.*/\1/p' "$OUT/interrupt.launch"); STOP_ID=$(sed -n 's/^run \([^ ]*\) started.*/\1/p' "$OUT/stop.launch")
# Both signals once training has begun (Lightning names the rank's devices), not after a fixed wait.
for id in "$INT_ID" "$STOP_ID"; do
  for _ in $(seq 1 1200); do
    grep -q "LOCAL_RANK: 0" "$XDG_DATA_HOME/depthnet-tui/runs/$id/log.txt" 2>/dev/null && break; sleep 0.5
  done
done
INT_PID=$(python3 -c "import json; print(json.load(open('$XDG_DATA_HOME/depthnet-tui/runs/$INT_ID/run.json'))['pid'])")
STOP_PID=$(python3 -c "import json; print(json.load(open('$XDG_DATA_HOME/depthnet-tui/runs/$STOP_ID/run.json'))['pid'])")
kill -INT -- -"$INT_PID"; echo "SIGINT sent to group $INT_PID"
( time dn stop "$STOP_ID" ) > "$OUT/stop.txt" 2>&1
echo "left in the stopped run's group: $(ps -o stat= -g "$STOP_PID" | grep -vc '^Z')" >> "$OUT/stop.txt"  # zombies are gone
timeout 120 "${DN[@]}" attach "$INT_ID" --json-events | tail -n 1 > "$OUT/interrupt.verdict.json"
timeout 60 "${DN[@]}" attach "$STOP_ID" --json-events | tail -n 1 > "$OUT/stop.verdict.json"
tail -c 1500 "$OUT/xdg/depthnet-tui/runs/$INT_ID/log.txt" > "$OUT/interrupt.log.tail"
wait
for r in healthy/train nan/train; do dn verdict $W/$r --json > "$OUT/verdict_${r%%/*}.json"; echo "verdict $r exit $?"; done
echo "== summary"; cat $OUT/train.json $OUT/nan.json $OUT/evaluate.json $OUT/inference.json $OUT/export.json
echo "== interrupt"; cat $OUT/interrupt.verdict.json; cat -v $OUT/interrupt.log.tail | tail -n 12
echo "== stop"; cat $OUT/stop.txt $OUT/stop.verdict.json; ps -ef | grep -c "[d]epth_net/scripts/train.py" || true
cat "$OUT"/verdict_*.json
ls -la $W/healthy/train $W/healthy/train/lightning_logs/* 2>/dev/null | head -30
find $W -name '*.onnx*' | xargs ls -la 2>/dev/null
