#!/usr/bin/env python3
"""How fast does `signclf predict` name a test set's worth of image files, and how fast is `signclf --help`?

    python scripts/bench_predict.py                  # 12,630 PNGs, trains a 1-epoch run to predict with
    python scripts/bench_predict.py --run runs/latest --n 2000

Writes N PNG files (the size of GTSRB's official test set by default) of 25–60 px, like the test
set's crops: real validation images from the shared valid.p, resized, when present; synthetic signs
otherwise. Then it measures
- `signclf predict DIR --jsonl` end to end as a subprocess (start-up, model load, decode, inference,
  output), median of --repeats runs, plus the rate from its first output line to its last;
- images/s after start-up in-process: `predict_files` over the folder, timed after the `Committee`
  (graph + checkpoint) is built, with each result turned into its JSON line as --jsonl does;
- `signclf --help`, median of 5 runs.
Targets from the issue: ≥ 5,000 images/s after start-up, `--help` ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

SHARED = REPO.parent / "shared" / "data" / "gtsrb"
TARGET_IMG_S, TARGET_HELP_S = 5000, 0.5


def signclf_command() -> list[str]:
    """The installed console script when there is one (what users type), else `python -m signclf`."""
    script = shutil.which("signclf")
    return [script] if script else [sys.executable, "-m", "signclf"]


def source_images(tmp: Path) -> tuple[np.ndarray, str]:
    from signclf.data.pickles import read_pickle

    if (SHARED / "valid.p").is_file():
        return read_pickle(SHARED / "valid.p").images, f"GTSRB {SHARED / 'valid.p'}"
    from signclf.data.synth import write_synthetic_dataset

    info = write_synthetic_dataset(tmp / "synth-images", per_class=20, seed=1)
    return read_pickle(info["train_path"]).images, "synthetic signs (no shared valid.p)"


def write_pngs(images: np.ndarray, n: int, out: Path, seed: int = 0) -> None:
    """n PNGs, image i = source i mod len, resized to a random 25–60 px side (aspect kept roughly square)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True)
    for i in range(n):
        w, h = (int(v) for v in rng.integers(25, 61, 2))
        img = cv2.resize(images[i % len(images)], (w, h), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(out / f"{i:05d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def quick_run(tmp: Path, config: str) -> Path:
    """Train `config` for one epoch on the shared pickles (or a small synthetic set) via the CLI."""
    if (SHARED / "train.p").is_file():
        train, valid = SHARED / "train.p", SHARED / "valid.p"
    else:
        from signclf.data.synth import write_synthetic_dataset

        info = write_synthetic_dataset(tmp / "synth-train", per_class=30, seed=0)
        train, valid = info["train_path"], info["valid_path"]
    run = tmp / "runs" / "bench-predict"
    cmd = signclf_command() + ["train", "--config", str(REPO / config), "--set", "train.epochs=1",
                               "--set", f"data.train={train}", "--set", f"data.valid={valid}",
                               "--run", str(run), "--no-progress"]
    print(f"training a 1-epoch run: {' '.join(cmd)}", file=sys.stderr)
    # cwd=tmp: nothing lands in the checkout's runs/ folder (runs/latest stays whatever it was)
    subprocess.run(cmd, check=True, cwd=tmp, stdout=subprocess.DEVNULL)
    return run


def time_cli_predict(run: Path, folder: Path, n: int) -> dict:
    """One `signclf predict --jsonl` subprocess: total wall time and the first→last output line rate."""
    from signclf.predict import FILES_PER_CHUNK

    cmd = signclf_command() + ["predict", str(folder), "--run", str(run), "--jsonl"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    first = last = None
    lines = 0
    for _line in proc.stdout:
        last = time.perf_counter()
        first = first or last
        lines += 1
    err = proc.stderr.read()
    if proc.wait() != 0 or lines != n:
        sys.exit(f"signclf predict failed (exit {proc.returncode}, {lines}/{n} lines):\n{err[-3000:]}")
    total = time.perf_counter() - t0
    # The first line appears once the first chunk is classified; the rest arrive as later chunks finish.
    streamed = (n - min(FILES_PER_CHUNK, n)) / (last - first) if n > FILES_PER_CHUNK and last > first else None
    return {"total_s": total, "first_line_s": first - t0, "img_s_first_to_last_line": streamed,
            "img_s_end_to_end": n / total}


def time_in_process(run: Path, folder: Path, n: int, repeats: int) -> dict:
    from signclf.tensorflow_import import import_tensorflow

    import_tensorflow(False)
    from signclf.config import INFERENCE_BATCH_SIZE
    from signclf.inference import Committee
    from signclf.predict import predict_files, to_json_line

    t0 = time.perf_counter()
    committee = Committee([run])
    startup = time.perf_counter() - t0
    rates = []
    with committee:
        for _ in range(repeats):
            t0 = time.perf_counter()
            count = sum(1 for pred in predict_files(committee, [folder], 3, INFERENCE_BATCH_SIZE) if to_json_line(pred))
            rates.append(count / (time.perf_counter() - t0))
            assert count == n, f"predicted {count} of {n} files"
    return {"committee_startup_s": startup, "img_s": statistics.median(rates), "img_s_samples": rates}


def time_help(repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(signclf_command() + ["--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "samples_s": times}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    p.add_argument("--run", type=Path, help="run directory to predict with (default: train one for 1 epoch)")
    p.add_argument("--config", default="configs/lenet.yaml", help="config for that 1-epoch run")
    p.add_argument("--n", type=int, default=12630, help="number of image files (default: GTSRB test set size)")
    p.add_argument("--repeats", type=int, default=3, help="timed repetitions (median reported)")
    p.add_argument("--help-repeats", type=int, default=5)
    p.add_argument("--out", default=str(REPO / "bench" / "bench_predict.json"), help="JSON results file")
    args = p.parse_args(argv)
    if min(args.n, args.repeats, args.help_repeats) < 1:
        p.error("--n, --repeats and --help-repeats must be >= 1")
    if args.run is not None and not (args.run / "config.yaml").is_file():
        p.error(f"--run {args.run}: not a signclf run directory")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="signclf-bench-predict-") as tmp_name:
        tmp = Path(tmp_name)
        images, source = source_images(tmp)
        folder = tmp / "images"
        t0 = time.perf_counter()
        write_pngs(images, args.n, folder)
        print(f"wrote {args.n} PNGs ({source}) in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        run = args.run.resolve() if args.run else quick_run(tmp, args.config)

        cli_runs = [time_cli_predict(run, folder, args.n) for _ in range(args.repeats)]
        cli = {k: statistics.median(r[k] for r in cli_runs) if cli_runs[0][k] is not None else None
               for k in cli_runs[0]}
        in_process = time_in_process(run, folder, args.n, args.repeats)
    help_times = time_help(args.help_repeats)

    rows = [("signclf predict --jsonl, end to end", f"{cli['total_s']:.2f} s", f"{cli['img_s_end_to_end']:,.0f} img/s"),
            ("  time to first output line", f"{cli['first_line_s']:.2f} s", ""),
            ("  first → last output line", "", f"{cli['img_s_first_to_last_line']:,.0f} img/s"
             if cli["img_s_first_to_last_line"] else "n/a"),
            ("predict_files after start-up (in-process)", "", f"{in_process['img_s']:,.0f} img/s"),
            ("  Committee start-up (graph + checkpoint)", f"{in_process['committee_startup_s']:.2f} s", ""),
            ("signclf --help", f"{help_times['median_s']:.3f} s", "")]
    print(f"\n{args.n} PNG files, 25–60 px, run {run.name} ({'given' if args.run else f'1 epoch of {args.config}'})")
    for name, t, rate in rows:
        print(f"{name:44s} {t:>9s} {rate:>14s}")
    met_rate, met_help = in_process["img_s"] >= TARGET_IMG_S, help_times["median_s"] <= TARGET_HELP_S
    print(f"\ntargets: ≥{TARGET_IMG_S:,} img/s after start-up: {'met' if met_rate else 'MISSED'}; "
          f"--help ≤ {TARGET_HELP_S} s: {'met' if met_help else 'MISSED'}")

    report = {"n_files": args.n, "source": source, "run": str(run), "config": None if args.run else args.config,
              "command": " ".join(signclf_command()), "repeats": args.repeats, "cli_predict": cli,
              "cli_predict_samples": cli_runs, "in_process": in_process, "help": help_times,
              "targets": {"img_s_after_startup": {"target": TARGET_IMG_S, "value": in_process["img_s"],
                                                  "met": met_rate},
                          "help_s": {"target": TARGET_HELP_S, "value": help_times["median_s"], "met": met_help}},
              "machine": {"cpu_count": os.cpu_count(), "load_avg_1min_before": round(load_before, 2),
                          "load_avg_1min_after": round(os.getloadavg()[0], 2)}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from signclf.atomic import atomic_write_json

    atomic_write_json(out, report)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
