import errno
import shutil

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import tiny_overrides
from signclf.config import load_config
from signclf.errors import CheckpointError, ConfigError
from signclf.inference import LoadedRun
from signclf.train import train

tf.disable_eager_execution()


def tiny_run(tmp_path, data, name, **kw):
    cfg = load_config(None, tiny_overrides(data, **kw))
    return train(cfg, run_dir=tmp_path / name, log=lambda *a: None, progress=False)


@pytest.fixture
def trained(tmp_path, tiny_data):
    return tiny_run(tmp_path, tiny_data, "a")


def test_checkpoint_from_another_architecture_is_named(tmp_path, tiny_data, trained):
    other = tiny_run(tmp_path, tiny_data, "b", **{"model.fc": "[32]", "train.epochs": 1})
    shutil.rmtree(other / "checkpoints")
    shutil.copytree(trained / "checkpoints", other / "checkpoints")
    with pytest.raises(CheckpointError, match=r"another architecture.*model/fc0/weights \[288, 16\] in checkpoint "
                                              r"vs \[288, 32\] in this model"):
        LoadedRun(other)


def test_truncated_checkpoint_is_reported(trained):
    data_file = next((trained / "checkpoints" / "best").glob("model-*.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        LoadedRun(trained)


def test_run_without_checkpoint_is_reported(trained):
    shutil.rmtree(trained / "checkpoints")
    with pytest.raises(CheckpointError, match="no best or last checkpoint"):
        LoadedRun(trained)


def test_resume_with_another_architecture_is_refused_naming_keys(tiny_data, trained):
    cfg = load_config(None, tiny_overrides(tiny_data, **{"model.fc": "[64]", "preprocess.color": "gray"}))
    with pytest.raises(ConfigError, match=r"differs from the run's in the architecture \(model.fc, preprocess.color\)"):
        train(cfg, resume=trained, log=lambda *a: None, progress=False)


def test_disk_full_while_saving_keeps_the_previous_checkpoint(tmp_path, tiny_data, monkeypatch):
    real_save = tf.train.Saver.save
    calls = {"n": 0}

    def save(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:  # epoch 1 saves best and last; epoch 2's first save hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(tf.train.Saver, "save", save)
    with pytest.raises(CheckpointError, match="no space left on device; the previous checkpoint there is intact"):
        tiny_run(tmp_path, tiny_data, "full", **{"train.epochs": 3})
    monkeypatch.setattr(tf.train.Saver, "save", real_save)
    run = tmp_path / "full"
    assert tf.train.latest_checkpoint(str(run / "checkpoints" / "last")).endswith("model-6")
    probs = LoadedRun(run).probabilities(np.zeros((2, 32, 32, 3), np.uint8))
    assert np.isfinite(probs).all()
    cfg = load_config(run / "config.yaml")
    train(cfg, resume=run, log=lambda *a: None, progress=False)  # and the run resumes to the end
    assert (run / "metrics.csv").read_text().count("\n") == 4


def test_a_half_written_newer_checkpoint_is_ignored_on_resume(tmp_path, tiny_data):
    run = tiny_run(tmp_path, tiny_data, "half", **{"train.epochs": 1})
    # What `kill -9` in the middle of a save leaves: new data, no index, state file not yet updated.
    (run / "checkpoints" / "last" / "model-999.data-00000-of-00001").write_bytes(b"\x00" * 1000)
    cfg = load_config(run / "config.yaml")
    cfg.train.epochs = 2
    train(cfg, resume=run, log=lambda *a: None, progress=False)
    assert tf.train.latest_checkpoint(str(run / "checkpoints" / "last")).endswith("model-12")


def test_restore_tolerates_only_the_named_variables_a_checkpoint_predates(tmp_path):
    from signclf.checkpoints import restore

    with tf.Graph().as_default(), tf.Session() as sess:
        old = tf.get_variable("old", initializer=3.0)
        sess.run(old.initializer)
        prefix = tf.train.Saver([old]).save(sess, str(tmp_path / "ckpt"))
    with tf.Graph().as_default(), tf.Session() as sess:
        old = tf.get_variable("old", initializer=0.0)
        new = tf.get_variable("new", initializer=7.0)
        sess.run(tf.global_variables_initializer())
        with pytest.raises(CheckpointError, match="lacks 1 variable"):
            restore(sess, prefix, [old, new])
        restore(sess, prefix, [old, new], may_lack={"new"})
        assert sess.run([old, new]) == [3.0, 7.0]
