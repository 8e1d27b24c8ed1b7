import csv
import json
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import tiny_overrides
from signclf.cli import main
from signclf.config import load_config
from signclf.crossval import fold_dir
from signclf.distill import soften, teacher_runs
from signclf.errors import ConfigError
from signclf.train import train


def _train(tmp_path, data, name, **extra):
    cfg = load_config(None, tiny_overrides(data, **{"train.epochs": 3, **extra}))
    cfg.name = name
    logs = []
    run = train(cfg, run_dir=tmp_path / name, log=logs.append, progress=False)
    return run, logs


def _last_valid_acc(run):
    return float(list(csv.DictReader(open(run / "metrics.csv")))[-1]["valid_acc"])


def test_soften_keeps_the_ranking_and_spreads_the_belief():
    probs = np.array([[0.9, 0.08, 0.02], [0.2, 0.5, 0.3]], np.float32)
    np.testing.assert_allclose(soften(probs, 1.0), probs, atol=1e-6)
    soft = soften(probs, 3.0)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
    assert (soft.argsort(axis=1) == probs.argsort(axis=1)).all()
    assert soft[0, 0] < 0.9 and soft[0, 2] > 0.02  # flatter, same order
    assert np.isfinite(soften(np.array([[1.0, 0.0]], np.float32), 2.0)).all()  # a zero probability stays finite


def test_a_student_learns_from_its_teacher_even_where_its_own_labels_are_wrong(tmp_path, tiny_data):
    teacher, _ = _train(tmp_path, tiny_data, "teacher")
    assert _last_valid_acc(teacher) >= 0.9
    # The student's training labels are scrambled: only the teacher knows the classes.
    scrambled = tmp_path / "scrambled"
    scrambled.mkdir()
    data = pickle.load(open(tiny_data / "train.p", "rb"))
    data["labels"] = np.random.default_rng(0).permutation(data["labels"])
    pickle.dump(data, open(scrambled / "train.p", "wb"))
    for name in ("valid.p", "signnames.csv"):
        (scrambled / name).write_bytes((tiny_data / name).read_bytes())
    alone, _ = _train(tmp_path, scrambled, "alone")
    student, logs = _train(tmp_path, scrambled, "student", **{"train.teacher": f"[{teacher}]",
                                                              "train.teacher_weight": 1.0,
                                                              "train.teacher_temperature": 1.0})
    assert _last_valid_acc(alone) < 0.6 and _last_valid_acc(student) >= 0.9
    assert any(line.startswith(f"teacher: {teacher}:") and "training images right" in line for line in logs)
    saved = (student / "config.yaml").read_text()
    assert str(teacher) in saved and "teacher_weight: 1.0" in saved  # the run records what taught it


def _cross_validate(tiny_data, out, *extra):
    args = ["cv", "--folds", "2", "--out", str(out), "--json"]
    for o in tiny_overrides(tiny_data, **{"train.epochs": 1}) + list(extra):
        args += ["--set", o]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_cross_validation_teaches_each_fold_with_its_own_fold(tiny_data, tmp_path):
    _cross_validate(tiny_data, tmp_path / "teacher")
    student = _cross_validate(tiny_data, tmp_path / "student", f"train.teacher=[{tmp_path / 'teacher'}]")
    assert student["completed"] == 2
    for fold in (0, 1):
        saved = load_config(fold_dir(tmp_path / "student", fold) / "config.yaml")
        assert teacher_runs(saved) == [fold_dir(tmp_path / "teacher", fold)]


def test_teachers_that_saw_the_validation_images_are_refused(tiny_data, tmp_path):
    _cross_validate(tiny_data, tmp_path / "cv")
    fold0 = fold_dir(tmp_path / "cv", 0)
    other_fold = load_config(None, tiny_overrides(tiny_data, **{"data.folds": 2, "data.fold": 1,
                                                                "train.teacher": f"[{fold0}]"}))
    with pytest.raises(ConfigError, match="trained on fold 0 of 2 folds, this run on fold 1 of 2"):
        teacher_runs(other_fold)
    plain = load_config(None, tiny_overrides(tiny_data, **{"train.teacher": f"[{tmp_path / 'cv'}]"}))
    with pytest.raises(ConfigError, match="is a cross-validation folder"):
        teacher_runs(plain)
    final, _ = _train(tmp_path, tiny_data, "final", **{"train.final": True, "train.epochs": 1})
    with pytest.raises(ConfigError, match="is a final model"):
        teacher_runs(load_config(None, tiny_overrides(tiny_data, **{"train.teacher": f"[{final}]"})))
    with pytest.raises(ConfigError, match="not a run directory or cross-validation folder"):
        teacher_runs(load_config(None, tiny_overrides(tiny_data, **{"train.teacher": f"[{tmp_path}]"})))


def test_teacher_keys_are_checked(tiny_data):
    with pytest.raises(ConfigError, match="train.teacher_weight must be in"):
        load_config(None, ["train.teacher_weight=1.5"])
    with pytest.raises(ConfigError, match="train.teacher_temperature must be in"):
        load_config(None, ["train.teacher_temperature=0"])
    with pytest.raises(ConfigError, match="cannot follow augment.mirror_prob"):
        load_config(None, ["train.teacher=[x]", "augment.enabled=true", "augment.mirror_prob=0.5"])


def test_a_bad_teacher_is_one_line_on_the_command_line(tiny_data, tmp_path):
    args = ["train", "--run", str(tmp_path / "run")]
    for o in tiny_overrides(tiny_data, **{"train.teacher": f"[{tmp_path / 'nowhere'}]"}):
        args += ["--set", o]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "train.teacher:" in result.output and "not a run directory" in result.output
    assert not (tmp_path / "run").exists()  # nothing was created for a run that could not start
