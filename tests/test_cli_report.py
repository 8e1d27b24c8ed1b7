"""`signclf report` and `signclf runs` through the CLI: output, exit codes, one-line errors."""

import csv
import io
import json
import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from export_fixtures import train_tiny_run, write_tiny_data

from signclf.cli import main
from signclf.rundir import RunPaths


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-report")
    data = write_tiny_data(root / "data")
    runs = root / "runs"
    train_tiny_run(data, runs / "tiny")
    train_tiny_run(data, runs / "fast", **{"train.learning_rate": 0.02})
    return runs


def test_runs_prints_a_table_json_and_csv(trained):
    result = invoke("runs", trained)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[-2:] == ["params", "train.learning_rate"] and len(lines) == 3
    assert lines[1].startswith("fast ") and " completed " in lines[1]
    data = json.loads(invoke("runs", trained, "--json", "--sort", "train.learning_rate").output)
    assert [r["name"] for r in data["runs"]] == ["tiny", "fast"] and data["differing_keys"] == ["train.learning_rate"]
    rows = list(csv.DictReader(io.StringIO(invoke("runs", trained, "--csv").output)))
    assert [r["name"] for r in rows] == ["fast", "tiny"] and rows[0]["train.learning_rate"] == "0.02"
    assert list(rows[0]).count("name") == 1  # the config's name is not compared: it only labels the run


def test_runs_defaults_to_the_runs_folder_and_says_when_there_is_none(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(trained.parent)
    assert invoke("runs").exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = invoke("runs")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith("error: runs: no such folder") and "signclf train --run runs/NAME" in result.output
    (tmp_path / "empty").mkdir()
    result = invoke("runs", "empty")
    assert result.exit_code == 1 and "no signclf runs in it or its sub-folders; train one with signclf train" \
        in result.output


def test_runs_usage_errors_exit_2(trained):
    result = invoke("runs", trained, "--json", "--csv")
    assert result.exit_code == 2 and "--json and --csv are exclusive" in result.output
    result = invoke("runs", trained, "--sort", "accuracy")
    assert result.exit_code == 2 and result.output.startswith("error: --sort accuracy: not a column (name, status, acc")


def test_report_writes_the_page_and_names_an_unreadable_image(trained, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.zeros((40, 40, 3), np.uint8))
    out = tmp_path / "out" / "page.html"
    result = invoke("report", "--run", trained / "tiny", "--image", good, "--image", bad, "--out", out,
                    "--no-progress")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"note: --image {bad}: ") and result.stderr.count("\n") == 1
    assert result.stdout.startswith(f"wrote {out} (") and f"pictures also in {out.with_suffix('')}/)" in result.stdout
    assert out.stat().st_size > 10_000 and (out.with_suffix("") / "features-0-stage1.png").is_file()


def test_report_on_latest_by_default_and_missing_runs_name_signclf_train(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("report")
    assert result.exit_code == 1 and "train one first (signclf train)" in result.output
    assert result.output.count("\n") == 1
    result = invoke("report", "--run", "nowhere")
    assert result.exit_code == 1 and result.output == ("error: nowhere: no such run directory; list your runs with "
                                                       "signclf runs, or train one with signclf train\n")
    (tmp_path / "runs").mkdir()
    run = shutil.copytree(trained / "tiny", tmp_path / "runs" / "tiny")
    (tmp_path / "runs" / "latest").symlink_to("tiny")
    result = invoke("report", "--no-progress")
    assert result.exit_code == 0, result.output
    assert RunPaths(run).report.is_file() and (RunPaths(run).report_assets / "confusion.png").is_file()


def test_report_checks_its_data_before_loading_anything(trained, tmp_path):
    result = invoke("report", "--run", trained / "tiny", "--split", "valid", "--data", trained)
    assert result.exit_code == 2 and "--split and --data are exclusive" in result.output
    result = invoke("report", "--run", trained / "tiny", "--split", "test")
    assert result.exit_code == 2 and "has no data.test; evaluate a dataset with --data PATH" in result.output


def test_report_and_runs_are_documented_commands():
    for command in ("report", "runs"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Usage: main " + command in result.output
    assert "--image IMG" in invoke("report", "--help").output
