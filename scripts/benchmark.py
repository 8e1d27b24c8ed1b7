#!/usr/bin/env python3
"""Train and infer the same LeNet-5 with signclf, tf.keras and PyTorch, side by side, on the same data.

    python scripts/benchmark.py                     # all installed frameworks, defaults below
    python scripts/benchmark.py --frameworks signclf,keras --steps 100 --repeats 5

What is measured, per framework and phase (train without augmentation, train with it, infer):
- train img/s: windows of `--steps` optimiser steps of `--batch-size` images, after `--warmup`
  untimed steps (graph building, tracing and first-step allocation are never timed);
- infer img/s: class probabilities for `--infer-images` uint8 images in batches of 1024;
- peak RSS: ru_maxrss of the framework's worker process over all three phases.

Each framework runs in its own fresh worker subprocess (`--worker NAME`), so its peak RSS is its
own and nothing is inherited from another framework. Phase by phase, the workers build and warm
up, then take turns: `--repeats` rounds of one timed window each, the order rotating every round,
only one of them running at a time (the others wait on a pipe). Other jobs on a shared machine
slow whichever window they overlap; medians of the windows (img/s) and the median of the
per-round paired ratios (signclf ÷ other, windows seconds apart) keep that from deciding.

The frameworks, kept as alike as each one's usual way of training allows:
- signclf: the product's own path: `signclf.trainer.Trainer` (data held in the graph, a step feeds
  indices), the very step `signclf train` runs; inference through
  `LoadedRun.probabilities`, as evaluate and predict use it (random weights).
- keras: a Sequential model, `model.fit` on the uint8 arrays in memory with shuffle=True; the
  pixels are normalised inside the model by a Normalization layer holding the same mean/std as
  signclf (no pre-normalised float copy), augmentation by Keras' Random* preprocessing layers plus
  a small gamma layer; inference is `model.predict(batch_size=1024)`, and a plain
  `model(x, training=False)` loop is reported as well.
- torch: eager PyTorch, uint8 data in a tensor on the device, batches indexed from a per-epoch
  randperm (its fastest idiom: a DataLoader over in-memory tensors would only be slower), the same
  augmentations written with affine_grid/grid_sample and tensor arithmetic, Adam, as many threads
  as cores; inference under no_grad.

Nothing is pinned to a device: on a machine with a GPU every framework uses it, and the table
says which device each one used. The environment passes through to the workers: on a CPU shared
with other jobs, PyTorch's OpenMP threads spin-wait for descheduled peers and slow down several
fold; OMP_WAIT_POLICY=PASSIVE is the usual remedy there, and the comparison is fairer with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(REPO / "scripts"))

from bench_workers import run_worker  # noqa: E402

SHARED_TRAIN = REPO.parent / "shared" / "data" / "gtsrb" / "train.p"
ALL_FRAMEWORKS = ("signclf", "keras", "torch")
PHASES = ("train_noaug", "train_aug", "infer")

# signclf targets from the issue: (phase, other framework, minimum ratio signclf ÷ other).
TARGETS = [("train_aug", "keras", 1.5), ("train_aug", "torch", 1.0), ("train_noaug", "keras", 1.8),
           ("infer", "keras", 2.0), ("infer", "torch", 2.0)]


# ---------------------------------------------------------------------------------------------
# parent: data, workers, interleaved rounds, table, JSON


class Worker:
    """A fresh `--worker NAME` subprocess for one framework; its stderr goes to a log file."""

    def __init__(self, args, name: str, data: str, tmp: str):
        self.name, self.log = name, os.path.join(tmp, f"{name}.log")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--data", data,
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch-size", str(args.batch_size),
               "--infer-images", str(args.infer_images)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                         env=env)

    def send(self, request) -> None:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            sys.exit(f"benchmark worker {self.name} failed (exit {self.proc.returncode}):\n"
                     f"{Path(self.log).read_text()[-4000:]}")
        return json.loads(line)

    def close(self) -> dict:
        self.send("quit")
        final = self.read()
        self.proc.wait()
        return final


def resolve_data(args, tmp: str) -> tuple[str, str]:
    """The shared GTSRB pickle when present (and not overridden), else a synthetic set in `tmp`."""
    if args.data:
        return args.data, f"{args.data}"
    if args.synthetic_per_class is None and SHARED_TRAIN.is_file():
        return str(SHARED_TRAIN), f"GTSRB {SHARED_TRAIN}"
    from signclf.data.synth import write_synthetic_dataset

    per_class = args.synthetic_per_class or 100
    info = write_synthetic_dataset(tmp, per_class=per_class, seed=0)
    return info["train_path"], f"synthetic, {per_class} per class ({info['train']} training images)"


def measure(args, frameworks, data: str, tmp: str) -> dict:
    """One fresh worker per framework. Phase by phase, all workers build and warm up (in parallel),
    then --repeats rounds of one timed window each, one worker at a time, the order rotating every
    round. Returns {framework: {"about", "windows": {phase: [window, ...]}, "peak_rss_mb"}}."""
    workers = {fw: Worker(args, fw, data, tmp) for fw in frameworks}
    out = {fw: {"windows": {}} for fw in frameworks}
    try:
        for phase in PHASES:
            t0 = time.time()
            for w in workers.values():
                w.send({"build": phase})
            for fw, w in workers.items():
                out[fw]["about"] = w.read()
            builds = ", ".join(f"{fw} {out[fw]['about']['build_s']:.0f}s" for fw in frameworks)
            print(f"  {phase}: built and warmed up in {time.time() - t0:.0f}s ({builds})", file=sys.stderr)
            for r in range(args.repeats):
                shift = r % len(frameworks)
                for fw in frameworks[shift:] + frameworks[:shift]:
                    time.sleep(0.2)  # let the previous worker's threads stop spinning before the clock starts
                    workers[fw].send("run")
                    out[fw]["windows"].setdefault(phase, []).append(workers[fw].read())
            print(f"  {phase}: {args.repeats} rounds timed, {time.time() - t0:.0f}s", file=sys.stderr)
        for fw, w in workers.items():
            out[fw]["peak_rss_mb"] = w.close()["peak_rss_mb"]
    finally:
        for w in workers.values():
            if w.proc.poll() is None:
                w.proc.kill()
    return out


def summarise(measured: dict) -> tuple[dict, dict]:
    """Median img/s per framework and phase; ratios = median over rounds of the paired per-round ratios
    (each round's windows ran seconds apart, so a slow patch on the machine hits both sides)."""
    results = {}
    for fw, m in measured.items():
        r = {"device": m["about"]["device"], "version": m["about"]["version"], "peak_rss_mb": m["peak_rss_mb"],
             "samples": {}}
        for phase, windows in m["windows"].items():
            for key in windows[0]:
                name = phase if key == "img_s" else f"{phase}_{key.removesuffix('_img_s')}"
                r[name] = statistics.median(w[key] for w in windows)
                r["samples"][name] = [round(w[key], 1) for w in windows]
        results[fw] = r
    ratio = {}
    if "signclf" in measured:
        mine = measured["signclf"]["windows"]
        for other in (fw for fw in measured if fw != "signclf"):
            theirs = measured[other]["windows"]
            ratio[f"signclf/{other}"] = {
                phase: statistics.median(a["img_s"] / b["img_s"] for a, b in zip(mine[phase], theirs[phase]))
                for phase in PHASES}
    return results, ratio


def check_targets(ratio: dict) -> list[dict]:
    return [{"phase": phase, "versus": other, "target": minimum,
             "ratio": round(ratio[f"signclf/{other}"][phase], 3), "met": ratio[f"signclf/{other}"][phase] >= minimum}
            for phase, other, minimum in TARGETS if f"signclf/{other}" in ratio]


def print_table(results: dict, ratio: dict, targets: list[dict]) -> None:
    print(f"\n{'framework':10s} {'train img/s':>12s} {'train+aug img/s':>16s} {'infer img/s':>12s} "
          f"{'peak RSS MB':>12s}  device")
    for fw, r in results.items():
        print(f"{fw:10s} {r['train_noaug']:12,.0f} {r['train_aug']:16,.0f} {r['infer']:12,.0f} "
              f"{r['peak_rss_mb']:12,.0f}  {r['device']}")
    if "keras" in results:
        print(f"(keras infer = model.predict; a plain model(x) loop: {results['keras']['infer_call']:,.0f} img/s)")
    if ratio:
        print(f"\n{'ratio (paired)':16s} {'train':>8s} {'train+aug':>10s} {'infer':>8s}")
        for name, r in ratio.items():
            print(f"{name:16s} {r['train_noaug']:7.2f}× {r['train_aug']:9.2f}× {r['infer']:7.2f}×")
    if targets:
        print("\ntargets: " + "; ".join(f"{t['phase']} vs {t['versus']} {t['ratio']:.2f}× "
                                        f"(≥{t['target']}×: {'met' if t['met'] else 'MISSED'})" for t in targets))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    p.add_argument("--frameworks", default=",".join(ALL_FRAMEWORKS),
                   help="comma-separated subset of signclf,keras,torch (torch is skipped when not installed)")
    p.add_argument("--steps", type=int, default=200, help="training steps per timed window (default 200)")
    p.add_argument("--warmup", type=int, default=10, help="untimed training steps before the first window")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed windows per framework and phase, interleaved; medians are reported (default 5)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--infer-images", type=int, default=10240, help="images classified per inference timing")
    p.add_argument("--data", help="a Udacity-layout train pickle (default: the shared GTSRB train.p if present)")
    p.add_argument("--synthetic-per-class", type=int,
                   help="use a synthetic set with this many images per class (default when no shared data: 100)")
    p.add_argument("--out", default=str(REPO / "bench" / "benchmark.json"), help="JSON results file")
    p.add_argument("--worker", choices=ALL_FRAMEWORKS, help=argparse.SUPPRESS)  # internal: a worker process
    args = p.parse_args(argv)
    if min(args.steps, args.repeats, args.batch_size, args.infer_images) < 1 or args.warmup < 0:
        p.error("--steps, --repeats, --batch-size and --infer-images must be >= 1, --warmup >= 0")
    if args.worker:
        return run_worker(args)

    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = sorted(set(frameworks) - set(ALL_FRAMEWORKS))
    if unknown:
        p.error(f"unknown framework(s) {', '.join(unknown)}; choose from {', '.join(ALL_FRAMEWORKS)}")
    skipped = {}
    if "torch" in frameworks:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            frameworks.remove("torch")
            skipped["torch"] = "not installed (pip install torch, or the 'bench' extra)"
            print("torch is not installed: skipping it", file=sys.stderr)

    load_before = os.getloadavg()[0]  # other jobs on this machine skew every number: keep it on record
    if load_before > 0.5:
        print(f"note: the 1-minute load average is {load_before:.1f} before starting; other jobs will slow "
              f"whichever framework they overlap (the median over rounds limits the damage)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="signclf-bench-") as tmp:
        data, data_desc = resolve_data(args, tmp)
        print(f"LeNet-5, batch {args.batch_size}, {args.warmup}+{args.steps} steps, {args.repeats} rounds; "
              f"data: {data_desc}; frameworks: {', '.join(frameworks)}", file=sys.stderr)
        measured = measure(args, frameworks, data, tmp)

    results, ratio = summarise(measured)
    targets = check_targets(ratio)
    print_table(results, ratio, targets)
    report = {"settings": {"steps": args.steps, "warmup": args.warmup, "repeats": args.repeats,
                           "batch_size": args.batch_size, "infer_images": args.infer_images, "data": data_desc,
                           "keras_input": "uint8 arrays, normalised in-model by a Normalization layer",
                           "statistic": "img/s: median of the windows; ratios: median of per-round paired ratios"},
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "load_avg_1min_before": round(load_before, 2),
                          "load_avg_1min_after": round(os.getloadavg()[0], 2)},
              "results": results, "ratios": ratio, "targets": targets, "skipped": skipped}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from signclf.atomic import atomic_write_json

    atomic_write_json(out, report)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
