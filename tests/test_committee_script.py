"""scripts/committee.py: the shipped committee recipe stays loadable, trains its members, survives a failed one."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from conftest import tiny_overrides
from signclf.config import load_config

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "committee.py"


def _script():
    spec = importlib.util.spec_from_file_location("committee_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args, timeout=600):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def test_every_member_is_a_valid_config_that_differs_in_preprocessing_or_seed():
    committee = _script()
    configs = {name: load_config(committee.member_config(name), committee.member_overrides(name))
               for name in committee.MEMBERS}
    looks = {(cfg.preprocess.color, cfg.preprocess.equalize, tuple(cfg.preprocess.extra), cfg.train.seed)
             for cfg in configs.values()}
    assert len(looks) == len(configs) >= 3  # no two members are the same model
    assert all(cfg.model.stn for cfg in configs.values())
    # The one-view members run with light noise; best.yaml's members keep its own per-image noise.
    assert all(cfg.augment.noise_max == 0 for cfg in configs.values() if not cfg.preprocess.extra)


def test_dry_run_prints_one_command_per_member_then_the_committee_score(tmp_path):
    proc = _run("cv", "--data", str(tmp_path), "--out", str(tmp_path / "cv"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    committee = _script()
    assert len(lines) == len(committee.MEMBERS) + 1
    assert all(line.startswith("signclf cv --config ") and "--folds 3" in line for line in lines[:-1])
    assert f"data.train={tmp_path / 'train.p'}" in lines[0]
    assert lines[-1].startswith("signclf cv-score ") and lines[-1].endswith(f"--tta {committee.TTA}")
    assert all(str(tmp_path / "cv" / name) in lines[-1] for name in committee.MEMBERS)


def test_final_trains_the_members_keeps_them_and_names_a_failing_one(tiny_data, tmp_path):
    out = tmp_path / "committee"
    small = [arg for item in tiny_overrides(tiny_data, **{"train.epochs": 1, "model.stn": "false"})
             for arg in ("--set", item)]
    proc = _run("final", "--members", "gray-clahe,gray-hist", "--out", str(out), *small)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name, equalize in (("gray-clahe", "clahe"), ("gray-hist", "hist")):
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["status"] == "completed"
        saved = (out / name / "config.yaml").read_text()
        assert f"equalize: {equalize}" in saved and "final: true" in saved
    assert f"signclf evaluate --run {out / 'gray-clahe'} --run {out / 'gray-hist'} --split test --tta 9" in proc.stdout

    again = _run("final", "--members", "gray-clahe,gray-hist", "--out", str(out), *small, "--dry-run")
    assert again.stdout.count("trained already") == 2

    # Run again with a third member whose data is missing: the trained two are kept as they are,
    # the new one fails alone, named in one line, without a traceback.
    broken = _run("final", "--members", "gray-clahe,gray-hist,rgb-clahe", "--out", str(out), *small,
                  "--set", f"data.train={tmp_path / 'missing.p'}")
    assert broken.returncode == 1
    assert "1 member(s) failed: rgb-clahe" in broken.stderr and "Traceback" not in broken.stderr
    assert broken.stdout.count("trained before") == 2
    assert "no such file" in (out / "rgb-clahe.log").read_text()


def test_bad_arguments_are_one_line(tmp_path):
    light = _run("cv", "--members", "gray-clahe,rgb-hist", "--tta", "1", "--dry-run")
    assert light.returncode == 0 and light.stdout.strip().splitlines()[-1].endswith("rgb-hist")  # no views
    unknown = _run("cv", "--members", "gray", "--dry-run")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "choose from gray-clahe" in unknown.stderr
    no_data = _run("final", "--data", str(tmp_path))
    assert no_data.returncode == 2 and no_data.stderr.count("\n") == 1 and "signclf data download" in no_data.stderr
