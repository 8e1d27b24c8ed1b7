"""Smoke test for scripts/benchmark.py: tiny settings, real workers, a JSON report with sane numbers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "benchmark.py"
HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_benchmark_script_writes_a_report(tmp_path):
    # One invocation for every framework (the synthetic set is rendered once); torch only when installed.
    frameworks = "signclf,keras" + (",torch" if HAS_TORCH else "")
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--steps", "3", "--warmup", "1", "--repeats", "1",
                           "--infer-images", "256", "--frameworks", frameworks, "--synthetic-per-class", "5",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    names = frameworks.split(",")
    assert set(report["results"]) == set(names)
    for name in names:
        r = report["results"][name]
        for key in ("train_noaug", "train_aug", "infer", "peak_rss_mb"):
            assert r[key] > 0, (name, key, r[key])
        assert r["device"] and r["version"]
    assert report["settings"]["steps"] == 3 and report["settings"]["batch_size"] == 128
    assert "synthetic" in report["settings"]["data"]
    if "signclf" in names and "keras" in names:
        assert set(report["ratios"]["signclf/keras"]) == {"train_noaug", "train_aug", "infer"}
        assert all(v > 0 for v in report["ratios"]["signclf/keras"].values())
        assert {t["versus"] for t in report["targets"]} == set(names) - {"signclf"}
    assert "framework" in proc.stdout and "train img/s" in proc.stdout  # the printed table


def test_benchmark_script_rejects_unknown_frameworks(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--frameworks", "signclf,jax", "--out",
                           str(tmp_path / "x.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "jax" in proc.stderr
