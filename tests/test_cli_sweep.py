"""`signclf sweep` from the command line: bad input is one line, and a killed sweep resumes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import tiny_overrides
from signclf.cli import main
from signclf.cli_sweep import RAY_MISSING
from signclf.errors import SIGINT_EXIT

REPO = Path(__file__).resolve().parents[1]


def _sets(data_dir, **extra) -> list[str]:
    return [arg for text in tiny_overrides(data_dir, **extra) for arg in ("--set", text)]


def _space(tmp_path, text="train.learning_rate: {grid: [0.01, 0.02]}\n") -> str:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


def _invoke(*args):
    return CliRunner().invoke(main, ["sweep", *args])


def _one_error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_an_invalid_space_is_one_line_and_exit_2(tiny_data, tmp_path):
    result = _invoke("--space", _space(tmp_path, "model.kep_prob: {uniform: [0.5, 1.0]}\n"), *_sets(tiny_data))
    assert result.exit_code == 2
    assert _one_error_line(result).endswith("unknown key 'model.kep_prob'; did you mean 'model.keep_prob'?")


def test_a_key_both_fixed_and_searched_is_refused(tiny_data, tmp_path):
    result = _invoke("--space", _space(tmp_path), *_sets(tiny_data))  # tiny_overrides fix train.learning_rate
    assert result.exit_code == 2
    assert "train.learning_rate: both fixed by --set and searched in" in _one_error_line(result)


def test_without_ray_the_error_names_the_install_command(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail as if it were not installed
    monkeypatch.setitem(sys.modules, "ray.tune", None)
    result = _invoke("--space", _space(tmp_path, "model.l2: {choice: [0, 0.001]}\n"), *_sets(tiny_data),
                     "--out", str(tmp_path / "out"))
    assert result.exit_code == 1 and _one_error_line(result) == f"error: {RAY_MISSING}"


def test_an_unreachable_address_is_one_line(tiny_data, tmp_path):
    pytest.importorskip("ray.tune", reason="Ray Tune not installed: pip install 'signclf[sweep]'")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _invoke("--space", _space(tmp_path, "model.l2: {choice: [0, 0.001]}\n"), *_sets(tiny_data),
                     "--address", f"127.0.0.1:{port}", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert _one_error_line(result).startswith(f"error: --address 127.0.0.1:{port}: no Ray cluster answers there")


def test_resume_takes_nothing_but_the_folder_and_needs_a_sweep_there(tmp_path):
    result = _invoke("--resume", str(tmp_path), "--trials", "3")
    assert result.exit_code == 2 and "drop --trials" in result.output
    result = _invoke("--resume", str(tmp_path))
    assert result.exit_code == 2
    assert "no sweep-spec.yaml there, so it is not a sweep folder" in _one_error_line(result)


def test_a_used_output_folder_is_not_overwritten(tiny_data, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = _invoke("--space", _space(tmp_path, "model.l2: {choice: [0, 0.001]}\n"), *_sets(tiny_data),
                     "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "continue that sweep with signclf sweep --resume" in _one_error_line(result)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def _sweep_process(args, cwd) -> subprocess.Popen:
    # SIGNCLF_CPUS=2: Ray gets two CPUs whatever the machine, so with 2 CPUs per trial they run one at a time.
    env = dict(os.environ, PYTHONPATH=str(REPO), SIGNCLF_CPUS="2")
    return subprocess.Popen([sys.executable, "-m", "signclf", "sweep", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _output(process: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """The process's stdout and stderr. On timeout it is stopped (Ctrl-C first, so Ray shuts its
    workers down), so no sweep outlives a failed test."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        raise


def _finished_runs(trials: Path) -> list[Path]:
    return [run for run in trials.glob("*_*")
            if (run / "summary.json").is_file() and '"completed"' in (run / "summary.json").read_text()]


def test_an_interrupted_sweep_resumes_without_rerunning_finished_trials(tiny_data, tmp_path):
    pytest.importorskip("ray.tune", reason="Ray Tune not installed: pip install 'signclf[sweep]'")
    out = tmp_path / "sweep"
    space = _space(tmp_path, "model.l2: {grid: [0, 0.0001, 0.001]}\n")
    sweep = _sweep_process(["--space", space, *_sets(tiny_data, **{"train.epochs": 10}), "--scheduler", "none",
                            "--cpus-per-trial", "2", "--out", str(out)], tmp_path)
    deadline = time.time() + 900  # a loaded machine is slow; a quiet one finishes a trial in seconds
    while not _finished_runs(out / "trials") and sweep.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert _finished_runs(out / "trials"), "no trial finished before the deadline"
    sweep.send_signal(signal.SIGINT)  # Ctrl-C once the first trial has finished
    stdout, stderr = _output(sweep, timeout=300)
    assert sweep.returncode == SIGINT_EXIT, stderr
    assert f"continue it with: signclf sweep --resume {out}" in stderr.strip().splitlines()[-1]
    done = _finished_runs(out / "trials")
    assert len(done) == 1, stdout
    untouched = {run: (run / "metrics.csv").stat().st_mtime_ns for run in done}

    resumed = _sweep_process(["--resume", str(out), "--json"], tmp_path)
    stdout, stderr = _output(resumed, timeout=900)  # two trials; slow beside other jobs
    assert resumed.returncode == 0, stderr
    result = json.loads(stdout)
    assert [r["status"] for r in result["trials"]] == ["completed"] * 3
    assert {run.name for run in (out / "trials").glob("*_*")} == {r["trial"] for r in result["trials"]}
    assert {run: (run / "metrics.csv").stat().st_mtime_ns for run in done} == untouched  # not run again
    assert all(len((Path(r["run"]) / "metrics.csv").read_text().splitlines()) == 11 for r in result["trials"])
