import csv
import json
import math

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import tiny_overrides
from signclf.config import load_config
from signclf.device import gpu_names
from signclf.inference import LoadedRun
from signclf.train import TrainingStopped, train

tf.disable_eager_execution()


def run_training(tmp_path, data, name, *extra, **kw):
    cfg = load_config(None, tiny_overrides(data, **kw) + list(extra))
    cfg.name = name
    return train(cfg, run_dir=tmp_path / name, log=lambda *a: None, progress=False)


def final_weights(run_dir, which="last"):
    prefix = tf.train.latest_checkpoint(str(run_dir / "checkpoints" / which))
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix) if name.startswith("model/")}


def test_training_lowers_loss_and_writes_the_run_directory(tmp_path, tiny_data):
    run = run_training(tmp_path, tiny_data, "basic", **{"train.epochs": 4})
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    losses = [float(r["train_loss"]) for r in rows]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
    assert float(rows[-1]["valid_acc"]) >= 0.9  # the tiny classes are easy
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["best_epoch"] >= 1
    assert set(summary["versions"]) == {"python", "tensorflow", "numpy"}
    assert json.loads((run / "class_names.json").read_text())[0] == "red disc"
    stats = json.loads((run / "preprocess.json").read_text())["stats"]
    assert len(stats["mean"]) == 3 and all(s > 0 for s in stats["std"])
    assert list((run / "checkpoints" / "best").glob("model-*.index"))
    assert list((run / "checkpoints" / "last").glob("model-*.index"))
    assert list(run.glob("events.out.tfevents.*"))
    assert (run / "config.yaml").read_text().count("epochs: 4") == 1
    assert "towers: 1\n" in (run / "config.yaml").read_text()  # auto, resolved: batch 16 is one tower


def test_two_towers_with_batch_norm_learn_as_well_as_one(tmp_path, tiny_data):
    accuracy = {}
    for towers in (1, 2):
        run = run_training(tmp_path, tiny_data, f"towers{towers}", **{"train.towers": towers, "train.epochs": 4,
                                                                     "model.batch_norm": True})
        rows = list(csv.DictReader(open(run / "metrics.csv")))
        accuracy[towers] = float(rows[-1]["valid_acc"])
        used = 1 if gpu_names() else towers  # a GPU always runs one tower
        assert f"towers: {used}\n" in (run / "config.yaml").read_text()
        assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert accuracy[2] >= 0.9 and accuracy[2] >= accuracy[1] - 0.05


def test_a_last_batch_smaller_than_the_towers_trains(tmp_path, tiny_data):
    # 96 images in batches of 19: every epoch ends with a batch of one image for two towers.
    run = run_training(tmp_path, tiny_data, "remainder", **{"train.towers": 2, "train.batch_size": 19,
                                                            "train.epochs": 3})
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert len(rows) == 3 and all(math.isfinite(float(r["train_loss"])) for r in rows)
    assert float(rows[-1]["valid_acc"]) >= 0.9


def test_save_restore_gives_identical_logits(tmp_path, tiny_data):
    run = run_training(tmp_path, tiny_data, "restore")
    images = np.random.default_rng(0).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    a = LoadedRun(run).probabilities(images)
    b = LoadedRun(run).probabilities(images)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (6, 4) and np.allclose(a.sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("augment,towers,mixup", [(False, 1, 0), (True, 1, 0), (True, 2, 0), (True, 2, 0.4)])
def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(tmp_path, tiny_data, augment, towers, mixup):
    extra = {"augment.enabled": augment, "model.keep_prob": 0.7, "train.lr_schedule": "exponential",
             "train.towers": towers, "model.batch_norm": towers > 1, "augment.mixup": mixup}
    straight = run_training(tmp_path, tiny_data, "straight", **extra, **{"train.epochs": 3})
    cfg = load_config(None, tiny_overrides(tiny_data, **extra, **{"train.epochs": 3}) + ["train.epochs=1"])
    cfg.train.epochs = 1
    first = train(cfg, run_dir=tmp_path / "split", log=lambda *a: None, progress=False)
    cfg.train.epochs = 3
    resumed = train(cfg, resume=first, log=lambda *a: None, progress=False)
    rows = list(csv.DictReader(open(resumed / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    a, b = final_weights(straight), final_weights(resumed)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-5, err_msg=name)


def test_momentum_sgd_learns_and_resumes_with_its_velocity(tmp_path, tiny_data):
    extra = {"train.optimizer": "momentum", "train.learning_rate": 0.05, "train.lr_schedule": "exponential"}
    straight = run_training(tmp_path, tiny_data, "straight", **extra, **{"train.epochs": 4})
    rows = list(csv.DictReader(open(straight / "metrics.csv")))
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"]) and float(rows[-1]["valid_acc"]) >= 0.9
    prefix = tf.train.latest_checkpoint(str(straight / "checkpoints" / "last"))
    names = [name for name, _ in tf.train.list_variables(prefix)]
    assert any(name.endswith("/Momentum") for name in names) and not any(name.endswith("/Adam") for name in names)
    cfg = load_config(None, tiny_overrides(tiny_data, **extra, **{"train.epochs": 4}))
    cfg.train.epochs = 2
    first = train(cfg, run_dir=tmp_path / "split", log=lambda *a: None, progress=False)
    cfg.train.epochs = 4
    resumed = train(cfg, resume=first, log=lambda *a: None, progress=False)
    a, b = final_weights(straight), final_weights(resumed)
    for name in a:  # the velocity came back from the checkpoint: the same path as without a break
        np.testing.assert_allclose(a[name], b[name], atol=1e-5, err_msg=name)


def test_early_stopping_and_best_checkpoint(tmp_path, tiny_data):
    # A learning rate of ~0 cannot improve after the first epoch, so patience 1 stops at epoch 2.
    run = run_training(tmp_path, tiny_data, "early", **{"train.epochs": 6, "train.early_stopping": 1,
                                                           "train.learning_rate": 1e-12})
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_completed"] == 2 and summary["best_epoch"] == 1
    assert "early stopping" in summary["status"]


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, tiny_data, monkeypatch):
    import signclf.trainer as trainer_module

    calls = {"n": 0}
    real = trainer_module.learning_rate

    def exploding(tc, epoch_progress, lr_scale):  # fine for epoch 1, poison from epoch 2 on
        calls["n"] += 1
        return real(tc, epoch_progress, lr_scale) if epoch_progress < 1 else float("nan")

    monkeypatch.setattr(trainer_module, "learning_rate", exploding)
    with pytest.raises(TrainingStopped, match=r"diverged: loss is (nan|inf) at epoch 2, step \d+") as e:
        run_training(tmp_path, tiny_data, "diverge", **{"train.epochs": 3})
    assert e.value.exit_code == 1
    last = tf.train.latest_checkpoint(str(tmp_path / "diverge" / "checkpoints" / "last"))
    assert last.endswith("model-6")  # 96 images / 16 = 6 steps: the end of epoch 1
    assert all(np.isfinite(w).all() for w in final_weights(tmp_path / "diverge").values())
    summary = json.loads((tmp_path / "diverge" / "summary.json").read_text())
    assert summary["status"].startswith("failed: training diverged: loss is") and summary["epochs_completed"] == 1


def test_finetune_starts_from_another_runs_best_weights(tmp_path, tiny_data):
    source = run_training(tmp_path, tiny_data, "source", **{"train.epochs": 3})
    tuned = run_training(tmp_path, tiny_data, "tuned", **{"train.epochs": 1, "train.learning_rate": 1e-12,
                                                           "train.finetune_from": str(source)})
    first = list(csv.DictReader(open(tuned / "metrics.csv")))[0]
    assert float(first["valid_acc"]) >= 0.9  # a from-scratch model at lr≈0 would be at chance
    a, b = final_weights(source, "best"), final_weights(tuned)
    np.testing.assert_allclose(a["model/conv0/weights"], b["model/conv0/weights"], atol=1e-6)


def test_moving_average_weights_are_what_the_run_validates_keeps_and_serves(tmp_path, tiny_data):
    run = run_training(tmp_path, tiny_data, "ema", **{"train.ema_decay": 0.9, "train.epochs": 2})
    stored = dict(tf.train.list_variables(tf.train.latest_checkpoint(str(run / "checkpoints" / "best"))))
    shadow = "model/conv0/weights/ExponentialMovingAverage"
    assert shadow in stored and "model/conv0/weights" in stored
    weights = final_weights(run, "best")
    assert not np.allclose(weights[shadow], weights["model/conv0/weights"])  # the average lags the weights
    # Inference restores the averages: its accuracy on the validation set is the one training recorded.
    from signclf.evaluate import evaluate

    summary = json.load(open(run / "summary.json"))
    result = evaluate([run], log=lambda *a: None)
    assert result["accuracy"] == pytest.approx(summary["best_valid_acc"], abs=1e-6)
    loaded = LoadedRun(run)
    with loaded.net.graph.as_default():
        conv0 = [v for v in tf.global_variables() if v.op.name == "model/conv0/weights"][0]
    np.testing.assert_array_equal(loaded.sess.run(conv0), weights[shadow])
    loaded.close()


def test_finetuning_from_a_moving_average_run_starts_from_its_averaged_weights(tmp_path, tiny_data):
    source = run_training(tmp_path, tiny_data, "source", **{"train.ema_decay": 0.9, "train.epochs": 2})
    tuned = run_training(tmp_path, tiny_data, "tuned", **{"train.epochs": 1, "train.learning_rate": 1e-12,
                                                           "train.finetune_from": str(source)})
    a, b = final_weights(source, "best"), final_weights(tuned)
    np.testing.assert_allclose(a["model/conv0/weights/ExponentialMovingAverage"], b["model/conv0/weights"], atol=1e-6)


def test_a_final_model_trains_on_every_labelled_image_without_validation(tmp_path, tiny_data):
    lines = []
    cfg = load_config(None, tiny_overrides(tiny_data, **{"train.final": True, "train.epochs": 2}))
    cfg.name = "final"
    run = train(cfg, run_dir=tmp_path / "final", log=lines.append, progress=False)
    assert any("training on all 128 labelled images, no validation set" in line for line in lines)  # 96 + 32
    assert any("no validation (train.final)" in line for line in lines) and not any(" *" in line for line in lines)
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [r["valid_acc"] for r in rows] == ["", ""] and all(float(r["train_loss"]) > 0 for r in rows)
    summary = json.load(open(run / "summary.json"))
    assert summary["best_valid_acc"] is None and summary["best_epoch"] == 2
    assert "cross-validation" in summary["validation"]
    np.testing.assert_array_equal(final_weights(run, "best")["model/conv0/weights"],
                                  final_weights(run, "last")["model/conv0/weights"])  # the last epoch is the model
    from signclf.errors import ConfigError
    from signclf.evaluate import evaluate

    with pytest.raises(ConfigError, match="final model .* evaluate it on unseen data with --split test or --data"):
        evaluate([run], log=lambda *a: None)
    assert evaluate([run], data_path=str(tiny_data / "valid.p"), log=lambda *a: None)["n"] == 32


@pytest.mark.parametrize("clash", ["data.folds=3", "train.early_stopping=2", "train.lr_schedule=plateau"])
def test_a_final_model_refuses_settings_that_need_validation(tiny_data, clash):
    from signclf.errors import ConfigError

    with pytest.raises(ConfigError, match=f"train.final trains without a validation set, which {clash.split('=')[0]}"):
        load_config(None, tiny_overrides(tiny_data, **{"train.final": True}) + [clash])


def test_mixup_trains_on_blended_targets(tmp_path, tiny_data):
    plain = run_training(tmp_path, tiny_data, "plain", **{"augment.enabled": True, "train.epochs": 3})
    mixed = run_training(tmp_path, tiny_data, "mixed", **{"augment.enabled": True, "augment.mixup": 1.0,
                                                          "train.epochs": 3})
    rows = {name: list(csv.DictReader(open(run / "metrics.csv"))) for name, run in (("plain", plain), ("mixed", mixed))}
    # Blended targets cannot be fitted as tightly as one-hot ones: the training loss stays higher.
    assert float(rows["mixed"][-1]["train_loss"]) > float(rows["plain"][-1]["train_loss"])
    assert float(rows["mixed"][-1]["valid_acc"]) >= 0.9
