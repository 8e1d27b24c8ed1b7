"""Which checkpoint a run restores, and what a damaged or tampered one says (tiny checkpoints, no training)."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from signclf.checkpoints import CheckpointSaver, find_checkpoint, restore
from signclf.errors import CheckpointError

tf.disable_eager_execution()


def save_run(run_dir, value: float = 3.0, size: int = 256):
    """A run's checkpoints/last and checkpoints/best, as CheckpointSaver writes them, for one variable."""
    with tf.Graph().as_default(), tf.Session() as sess:
        var = tf.get_variable("w", initializer=tf.fill([size], value))
        sess.run(var.initializer)
        saver = CheckpointSaver(run_dir, [var])
        saver.save_best(sess, 3)
        saver.save_last(sess, 6)
    return run_dir


def restored(prefix, size: int = 256):
    with tf.Graph().as_default(), tf.Session() as sess:
        var = tf.get_variable("w", shape=[size])
        restore(sess, prefix, [var])
        return sess.run(var)


def test_best_is_found_and_says_so(tmp_path):
    found = find_checkpoint(save_run(tmp_path), "best")
    assert (found, found.kind, found.note) == (str(tmp_path / "checkpoints" / "best" / "model-3"), "best", None)
    assert restored(found)[0] == 3.0
    last = find_checkpoint(tmp_path, "last")
    assert (last, last.kind) == (str(tmp_path / "checkpoints" / "last" / "model-6"), "last")


def test_a_run_given_by_a_relative_path_finds_its_checkpoints(tmp_path, monkeypatch):
    save_run(tmp_path / "runs" / "a")
    monkeypatch.chdir(tmp_path)
    found = find_checkpoint("runs/a", "last")
    assert (found, found.kind, found.note) == ("runs/a/checkpoints/last/model-6", "last", None)
    assert restored(found)[0] == 3.0


def test_falling_back_from_a_damaged_best_to_last_is_said(tmp_path):
    save_run(tmp_path)
    (tmp_path / "checkpoints" / "best" / "model-3.index").unlink()
    found = find_checkpoint(tmp_path, "best")
    assert found.kind == "last" and found.endswith("model-6")
    checkpoints = tmp_path / "checkpoints"
    assert found.note == (f"no usable best checkpoint (model-3.index is missing from {checkpoints / 'best'}); "
                          f"used the last one, {checkpoints / 'last' / 'model-6'}")
    with pytest.raises(CheckpointError, match=r"no last checkpoint in .*\(model-6.index is missing"):
        (tmp_path / "checkpoints" / "last" / "model-6.index").unlink()
        find_checkpoint(tmp_path, "last")


def test_a_state_file_pointing_outside_the_run_is_refused(tmp_path):
    elsewhere = save_run(tmp_path / "elsewhere", value=7.0)
    run = save_run(tmp_path / "run")
    outside = find_checkpoint(elsewhere, "best")
    for named in (outside, "../../../elsewhere/checkpoints/best/model-3"):
        (run / "checkpoints" / "best" / "checkpoint").write_text(f'model_checkpoint_path: "{named}"\n')
        with pytest.raises(CheckpointError, match=r"best/checkpoint: names .*, outside .*restores only its own") as e:
            find_checkpoint(run, "best")
        assert "\n" not in str(e.value)


def test_a_checksum_failure_names_the_corrupt_data_file(tmp_path):
    prefix = find_checkpoint(save_run(tmp_path), "best")
    data_file = tmp_path / "checkpoints" / "best" / "model-3.data-00000-of-00001"
    data = bytearray(data_file.read_bytes())
    data[100] ^= 0xFF  # one flipped bit pattern inside the tensor: same size, wrong CRC
    data_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as e:
        restored(prefix)
    message = str(e.value)
    assert message.startswith(f"{data_file}: checkpoint data is truncated or corrupt (")
    assert "Checksum does not match" in message and "Graph execution error" not in message
    assert "\n" not in message


def test_a_checkpoint_from_another_shape_is_named(tmp_path):
    prefix = find_checkpoint(save_run(tmp_path, size=4), "best")
    with pytest.raises(CheckpointError, match=r"another architecture: w \[4\] in checkpoint vs \[8\]"):
        restored(prefix, size=8)
    np.testing.assert_array_equal(restored(prefix, size=4), [3.0] * 4)


def test_a_truncated_data_file_is_named(tmp_path):
    prefix = find_checkpoint(save_run(tmp_path), "best")
    data_file = tmp_path / "checkpoints" / "best" / "model-3.data-00000-of-00001"
    data_file.write_bytes(data_file.read_bytes()[:100])
    with pytest.raises(CheckpointError) as e:
        restored(prefix)
    assert str(e.value) == (f"{data_file}: checkpoint data is truncated or corrupt (Read less bytes than requested); "
                            f"train a new run (signclf train)")


def disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


def test_on_first_save_runs_once_and_only_after_a_complete_save(tmp_path, monkeypatch):
    calls = []
    with tf.Graph().as_default(), tf.Session() as sess:
        var = tf.get_variable("w", initializer=1.0)
        sess.run(var.initializer)
        saver = CheckpointSaver(tmp_path, [var], on_first_save=lambda: calls.append(sorted(
            p.name for p in (tmp_path / "checkpoints" / "last").iterdir())))
        real_save = tf.train.Saver.save
        monkeypatch.setattr(tf.train.Saver, "save", disk_full)
        with pytest.raises(CheckpointError, match="no space left on device"):
            saver.save_last(sess, 1)
        assert calls == []
        monkeypatch.setattr(tf.train.Saver, "save", real_save)
        saver.save_last(sess, 2)
        saver.save_best(sess, 2)
        saver.save_last(sess, 3)
    assert calls == [["checkpoint", "model-2.data-00000-of-00001", "model-2.index"]]
