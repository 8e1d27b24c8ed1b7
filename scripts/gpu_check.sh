#!/usr/bin/env bash
# One prepared check for a GPU machine: install the GPU extra, run the tests, check that the
# network's ops are placed on the GPU, train configs/lenet.yaml and 3 epochs of configs/best.yaml
# on the GPU and on the CPU, and print epoch times and images/s side by side.
#
#     scripts/gpu_check.sh                 # data from $DATA (default ../shared/data/gtsrb, else data/gtsrb)
#     SKIP_INSTALL=1 SKIP_TESTS=1 LENET_EPOCHS=2 BEST_EPOCHS=0 scripts/gpu_check.sh   # a quick pass
#
# BEST_EPOCHS=0 leaves best.yaml out (one epoch of it takes minutes on a CPU).
#
# Without a GPU it says so and runs the CPU column only. Runs go to $OUT (default a temp folder).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-python3}
LENET_EPOCHS=${LENET_EPOCHS:-15}
BEST_EPOCHS=${BEST_EPOCHS:-3}
OUT=${OUT:-$(mktemp -d -t signclf-gpu-check.XXXXXX)}
if [[ -z "${DATA:-}" ]]; then
    DATA=../shared/data/gtsrb
    [[ -f $DATA/train.p ]] || DATA=data/gtsrb
fi
if [[ ! -f $DATA/train.p || ! -f $DATA/valid.p ]]; then
    echo "gpu_check: no $DATA/train.p and valid.p; get them with: signclf data download --out data/gtsrb" >&2
    echo "           (or point DATA=... at a folder that has them)" >&2
    exit 1
fi

step() { printf '\n== %s\n' "$*"; }

if [[ -z "${SKIP_INSTALL:-}" ]]; then
    step "install (.[dev,gpu,export,runtime,tflite])"
    "$PYTHON" -m pip install -q -e ".[dev,gpu,export,runtime,tflite]"
fi

GPU=$("$PYTHON" -c "import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'
import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))" 2>/dev/null)
if [[ $GPU == 0 ]]; then
    step "no GPU found: running the CPU column only"
    DEVICES=(cpu)
else
    step "$GPU GPU(s) found"
    DEVICES=(gpu cpu)
fi

if [[ -z "${SKIP_TESTS:-}" ]]; then
    step "tests"
    "$PYTHON" -m pytest -q -p no:cacheprovider
fi

if [[ $GPU != 0 ]]; then
    step "op placement: where the inference graph's ops ran"
    "$PYTHON" - <<'EOF'
import collections, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow.compat.v1 as tf
from signclf.config import load_config
from signclf.device import Device
from signclf.graph import build_inference_graph

tf.disable_eager_execution()
cfg = load_config("configs/lenet.yaml")
device = Device.for_inference()
stats = {"mean": [0.0] * cfg.input_channels, "std": [1.0] * cfg.input_channels}
net = build_inference_graph(cfg, stats, 43, device)
with tf.Session(graph=net.graph, config=device.session_config()) as sess:
    sess.run(tf.variables_initializer(net.graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)))
    meta = tf.RunMetadata()
    x = np.zeros((256, cfg.data.image_size, cfg.data.image_size, cfg.input_channels), np.uint8)
    sess.run(net.probabilities, {net.images: x}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
             run_metadata=meta)
placed = collections.Counter()
for dev in meta.step_stats.dev_stats:
    kind = "GPU" if "GPU" in dev.device.upper() else "CPU"
    placed[kind] += sum(1 for n in dev.node_stats if "Conv2D" in n.node_name or "MatMul" in n.node_name)
print(f"device {device.describe()}: conv/matmul ops on GPU {placed['GPU']}, on CPU {placed['CPU']}")
if placed["GPU"] == 0:
    raise SystemExit("gpu_check: no convolution ran on the GPU")
EOF
fi

train() {  # device config epochs
    local device=$1 config=$2 epochs=$3 name
    name=$(basename "$config" .yaml)
    step "train $name on $device ($epochs epochs)"
    local visible=${CUDA_VISIBLE_DEVICES-unset}
    if [[ $device == cpu ]]; then export CUDA_VISIBLE_DEVICES=""; fi
    "$PYTHON" -m signclf train --config "$config" --no-progress --force --run "$OUT/$name-$device" \
        --set "data.train=$DATA/train.p" --set "data.valid=$DATA/valid.p" --set "train.epochs=$epochs"
    if [[ $visible == unset ]]; then unset CUDA_VISIBLE_DEVICES; else export CUDA_VISIBLE_DEVICES=$visible; fi
}

for device in "${DEVICES[@]}"; do
    train "$device" configs/lenet.yaml "$LENET_EPOCHS"
    if [[ $BEST_EPOCHS != 0 ]]; then train "$device" configs/best.yaml "$BEST_EPOCHS"; fi
done

step "side by side (median over epochs after the first, which includes graph compilation)"
"$PYTHON" - "$OUT" "${DEVICES[@]}" <<'EOF'
import csv, json, statistics, sys
from pathlib import Path

out, devices = Path(sys.argv[1]), sys.argv[2:]
print(f"{'config':8s} " + " ".join(f"{d + ' epoch s':>12s} {d + ' img/s':>11s} {d + ' valid':>9s}" for d in devices))
for name in ("lenet", "best"):
    if not (out / f"{name}-{devices[0]}").is_dir():
        continue
    cells = []
    for device in devices:
        rows = list(csv.DictReader(open(out / f"{name}-{device}" / "metrics.csv")))
        later = rows[1:] or rows
        cells.append(f"{statistics.median(float(r['epoch_s']) for r in later):12.1f} "
                     f"{statistics.median(float(r['images_per_s']) for r in later):11,.0f} "
                     f"{max(float(r['valid_acc']) for r in rows):9.4f}")
        summary = json.loads((out / f"{name}-{device}" / "summary.json").read_text())
        assert summary["status"] == "completed", summary
    print(f"{name:8s} " + " ".join(cells))
print(f"runs in {out}")
EOF
