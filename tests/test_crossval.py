import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import tiny_overrides
from signclf.cli import main
from signclf.config import load_config
from signclf.crossval import fold_config, fold_dir, format_summary, summarize
from signclf.data.loading import load_train_valid
from signclf.data.pickles import read_pickle


def test_folds_pool_train_and_valid_and_never_overlap(tiny_data):
    cfg = load_config(None, tiny_overrides(tiny_data))
    total = len(read_pickle(tiny_data / "train.p")) + len(read_pickle(tiny_data / "valid.p"))
    seen = []
    for fold in range(3):
        train, valid = load_train_valid(fold_config(cfg, 3, fold), log=lambda *a: None)
        assert len(train) + len(valid) == total and set(np.unique(valid.labels)) == {0, 1, 2, 3}
        seen.append(valid.images.reshape(len(valid), -1))
    together = np.concatenate(seen)
    assert len(together) == total and len(np.unique(together, axis=0)) == total  # every image validates once


def test_fold_keys_are_checked():
    from signclf.errors import ConfigError

    with pytest.raises(ConfigError, match="data.fold must be between 0 and 2"):
        load_config(None, ["data.folds=3", "data.fold=3"])
    with pytest.raises(ConfigError, match="data.folds must be 0 .off. or between 2 and 20"):
        load_config(None, ["data.folds=1"])


def test_cv_trains_each_fold_once_and_summarises(tiny_data, tmp_path):
    out = tmp_path / "cv"
    args = ["cv", "--folds", "2", "--out", str(out), "--fold", "1"]
    for o in tiny_overrides(tiny_data, **{"train.epochs": 1}):
        args += ["--set", o]
    first = CliRunner().invoke(main, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert (fold_dir(out, 1) / "checkpoints" / "best").is_dir() and not fold_dir(out, 0).exists()
    assert "2 track-disjoint folds (1 trained)" in first.output
    everything = CliRunner().invoke(main, [a for a in args if a not in ("--fold", "1")] + ["--json"],
                                    catch_exceptions=False)
    assert everything.exit_code == 0, everything.output
    result = json.loads(everything.output)
    assert result["completed"] == 2 and [r["fold"] for r in result["per_fold"]] == [0, 1]
    accs = [r["final_valid_acc"] for r in result["per_fold"]]
    assert result["final_valid_acc"]["mean"] == pytest.approx(np.mean(accs), abs=1e-6)
    assert json.loads((out / "cv.json").read_text()) == result
    config = (fold_dir(out, 0) / "config.yaml").read_text()
    assert "folds: 2" in config and "fold: 0" in config


def test_summary_reports_mean_sd_and_the_epoch_count_for_a_final_model(tmp_path):
    from signclf.rundir import write_metrics, write_summary

    for fold, accs in enumerate([[0.5, 0.9, 0.8], [0.6, 0.7, 0.9]]):
        run = fold_dir(tmp_path, fold)
        run.mkdir(parents=True)
        write_metrics(run, [{"epoch": e + 1, "valid_acc": a} for e, a in enumerate(accs)])
        write_summary(run, {"status": "completed", "best_valid_acc": max(accs), "best_epoch": accs.index(max(accs)) + 1,
                            "wall_time_s": 10})
    result = summarize(tmp_path, 2)
    assert result["final_valid_acc"] == {"mean": 0.85, "sd": pytest.approx(0.070711, abs=1e-6)}
    assert result["best_mean_epoch"] == 3  # mean 0.85 at epoch 3 beats 0.8 at epoch 2
    text = format_summary(result, tmp_path)
    assert "mean  0.8500 ± 0.0707 after the last epoch" in text and "final model: 3" in text
    assert "on all the data: signclf train --set train.final=true --set train.epochs=3\n" in text
    # the printed command trains the variant that was cross-validated, with the folds' epoch count
    tuned = format_summary(result, tmp_path, "my configs/best.yaml", ["augment.noise=0.04", "train.epochs=40"])
    assert ("on all the data: signclf train --config 'my configs/best.yaml' --set augment.noise=0.04 "
            "--set train.final=true --set train.epochs=3\n") in tuned


@pytest.mark.parametrize("schedule, epochs", [("cosine", 4), ("constant", 2)])
def test_a_cosine_schedule_keeps_its_full_length_for_the_final_model(tmp_path, schedule, epochs):
    """Epoch 2 of a 4-epoch cosine cannot be rerun as a 2-epoch cosine; a constant rate can."""
    from signclf.rundir import write_config, write_metrics, write_summary

    cfg = load_config(None, [f"train.lr_schedule={schedule}", "train.epochs=4"])
    for fold in range(2):
        run = fold_dir(tmp_path, fold)
        run.mkdir(parents=True)
        write_config(run, cfg)
        write_metrics(run, [{"epoch": e + 1, "valid_acc": a} for e, a in enumerate([0.5, 0.9, 0.8, 0.85])])
        write_summary(run, {"status": "completed", "best_valid_acc": 0.9, "best_epoch": 2, "wall_time_s": 1})
    result = summarize(tmp_path, 2)
    assert result["best_mean_epoch"] == 2 and result["final_epochs"] == epochs
    text = format_summary(result, tmp_path, "c.yaml", ["train.epochs=4"])
    assert f"epochs for a final model: {epochs} (" in text
    assert text.count("train.epochs=") == 1 and f"--set train.epochs={epochs}\n" in text


def test_a_fold_runs_validation_is_its_fold_even_with_data_valid_set(tiny_data):
    from signclf.data.loading import load_split, split_source

    cfg = fold_config(load_config(None, tiny_overrides(tiny_data)), 3, 1)
    assert cfg.data.valid and split_source(cfg, "valid") == cfg.data.train
    _, fold_valid = load_train_valid(cfg, log=lambda *a: None)
    evaluated = load_split(cfg, "valid", log=lambda *a: None)  # what `signclf evaluate` on the fold reads
    np.testing.assert_array_equal(evaluated.images, fold_valid.images)


def test_unfinished_folds_are_listed_but_not_averaged(tmp_path):
    from signclf.rundir import write_metrics, write_summary

    for fold, status in enumerate(["completed", "interrupted by SIGINT"]):
        run = fold_dir(tmp_path, fold)
        run.mkdir(parents=True)
        write_metrics(run, [{"epoch": 1, "valid_acc": 0.9 - fold / 2}])
        write_summary(run, {"status": status, "best_valid_acc": 0.9 - fold / 2, "best_epoch": 1})
    fold_dir(tmp_path, 2).mkdir()
    write_metrics(fold_dir(tmp_path, 2), [{"epoch": 1, "valid_acc": 0.1}])  # killed before its summary
    result = summarize(tmp_path, 3)
    assert result["completed"] == 1 and len(result["per_fold"]) == 3
    assert result["final_valid_acc"] == {"mean": 0.9, "sd": 0.0}
    assert "(interrupted by SIGINT: not in the mean)" in format_summary(result, tmp_path)


def _cross_validate(tiny_data, out, folds=2, **extra):
    args = ["cv", "--folds", str(folds), "--out", str(out), "--json"]
    for o in tiny_overrides(tiny_data, **{"train.epochs": 1, **extra}):
        args += ["--set", o]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_cv_score_rescores_the_last_epochs_and_forms_committees(tiny_data, tmp_path):
    a = _cross_validate(tiny_data, tmp_path / "a")
    _cross_validate(tiny_data, tmp_path / "b", **{"train.seed": 1, "preprocess.color": "gray"})
    alone = CliRunner().invoke(main, ["cv-score", str(tmp_path / "a"), "--json"])
    assert alone.exit_code == 0, alone.output
    scored = json.loads(alone.output)
    assert [r["accuracy"] for r in scored["per_fold"]] == pytest.approx(
        [r["final_valid_acc"] for r in a["per_fold"]], abs=1e-5)  # the same models on the same folds
    both = CliRunner().invoke(main, ["cv-score", str(tmp_path / "a"), str(tmp_path / "b"), "--tta", "3"])
    assert both.exit_code == 0, both.output
    assert "committee of" in both.output and "3 views per image" in both.output and "over 2 of 2 folds" in both.output
    third = _cross_validate(tiny_data, tmp_path / "c", folds=3)
    assert third["folds"] == 3
    mixed = CliRunner().invoke(main, ["cv-score", str(tmp_path / "a"), str(tmp_path / "c")])
    assert mixed.exit_code == 2 and "different fold counts" in mixed.output
    missing = CliRunner().invoke(main, ["cv-score", str(tmp_path)])
    assert missing.exit_code == 2 and "no cv.json; it is not a cross-validation folder" in missing.output


def test_a_final_model_config_is_not_cross_validated(tiny_data, tmp_path):
    args = ["cv", "--folds", "2", "--out", str(tmp_path / "cv")]
    for o in tiny_overrides(tiny_data, **{"train.final": True}):
        args += ["--set", o]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "train.final trains without validation, so it cannot be cross-validated" \
        in result.output
    assert not (tmp_path / "cv").exists()
