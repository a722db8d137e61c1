#!/usr/bin/env bash
# The NVML-present paths on a GPU machine (not CI): `depthnet setup --json` with real GPUs, the launch preflight's
# memory check against a real GPU's free memory, and the Run screen's live GPU telemetry (headless Textual, a real
# TAO 7.3.0 train run on the local backend).
#
#   benchmarks/gpu_setup.sh SITE WHEELS REDWOOD OUT   (as gpu_e2e.sh; WHEELS also holds textual and its deps)
set -uo pipefail
. "$(dirname "$0")/gpu_common.sh" "$@"
need_gpus 1
gpu_info

dn setup --json --output-dir "$WORK" > "$OUT/setup.json"; echo "setup exit $?" | tee "$OUT/setup.txt"

redwood_data 4
work_dir setup
# A ViT-L batch twice what the memory fit says GPU 0 holds, so the preflight refuses it on any GPU (32 without one).
BIG_BATCH=$(python3 -c "
from specgen.engine import nvml
from specgen.job.memory_fit import largest_batch
gpus = nvml.facts().gpus
print(2 * largest_batch('vitl', (518, 518), 'fp32', gpus[0].memory_total / 2**30) + 2 if gpus else 32)")
dn convert --data-root $D/train --image-pattern rgb_ --depth-pattern sync_depth_ --split-ratio 1.0 --out $W/ann >/dev/null
COMMON=(--recipe sanity --dataset-name NYUDV2 --data-file $W/ann/test.txt --val-data-file $W/ann/test.txt
        --set model.mono_backbone.pretrained_path=null --set train.pretrained_model_path=null --set train.num_epochs=2)
dn spec train --encoder vitl "${COMMON[@]}" --results-dir $W/big --set dataset.train_dataset.batch_size=$BIG_BATCH \
  --set "dataset.train_dataset.augmentation.crop_size=[518,518]" -o $W/big.yaml --force >/dev/null 2>&1
dn run train -e $W/big.yaml --backend local --gpus 0 > "$OUT/preflight.txt" 2>&1; echo "preflight exit $?" >> "$OUT/preflight.txt"
dn spec train --encoder vits "${COMMON[@]}" --results-dir $W/tele -o $W/tele.yaml --force >/dev/null 2>&1

W=$W python3 - <<'PY' > "$OUT/telemetry.txt" 2>&1
import asyncio, os
from specgen.engine.launch import RunOptions, prepare, start
from tui.app import DepthnetApp
from tui.screens.run import RunScreen

async def main():
    prepared = prepare(RunOptions(action="train", spec=os.environ["W"] + "/tele.yaml", backend="local", gpus="0"))
    assert not prepared.problems, prepared.problems
    record, backend = start(prepared, "local")
    app = DepthnetApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        app.push_screen(RunScreen(record, backend))
        seen = []
        for _ in range(300):
            await pilot.pause(0.5)
            screen = app.screen
            if isinstance(screen, RunScreen):
                line = screen.query_one("#gpu-telemetry")
                if line.display and not line.has_class("hidden"):
                    seen.append(str(line.render()))
                if screen.progress.verdict is not None:
                    break
        print("telemetry samples:", len(seen))
        for s in seen[:: max(1, len(seen) // 6)]:
            print("  ", s.replace("\n", " | "))
        print("verdict:", screen.progress.verdict.passed if screen.progress.verdict else None,
              screen.progress.verdict.reason if screen.progress.verdict else "")

asyncio.run(main())
PY
cat "$OUT/setup.txt" "$OUT/setup.json" "$OUT/preflight.txt" "$OUT/telemetry.txt"
