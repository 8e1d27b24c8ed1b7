import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import make_dataset
from signclf.config import load_config
from signclf.device import Device
from signclf.trainer import Diverged, Progress, Trainer, epoch_order, learning_rate

tf.disable_eager_execution()

CPU_ONE_TOWER = Device("CPU", gpu=False, cores=2, towers=1, float16=False, blocked_conv=True)
STATS = {"mean": [100.0] * 3, "std": [60.0] * 3}


def test_learning_rate_schedules():
    cfg = load_config(None, ["train.epochs=10", "train.learning_rate=0.1"])
    tc = cfg.train
    assert learning_rate(tc, 5.0, 1.0) == pytest.approx(0.1)
    tc.lr_schedule = "cosine"
    assert learning_rate(tc, 0, 1.0) == pytest.approx(0.1) and learning_rate(tc, 10, 1.0) == pytest.approx(0)
    assert learning_rate(tc, 5, 1.0) == pytest.approx(0.05)
    tc.lr_schedule, tc.lr_step_epochs, tc.lr_decay = "step", 3, 0.5
    assert [round(learning_rate(tc, e, 1.0), 4) for e in (0, 2.9, 3, 6.5)] == [0.1, 0.1, 0.05, 0.025]
    tc.lr_schedule = "plateau"
    assert learning_rate(tc, 7, 0.25) == pytest.approx(0.025)
    tc.lr_schedule, tc.warmup_epochs = "constant", 2
    assert learning_rate(tc, 1, 1.0) == pytest.approx(0.05)


def test_epoch_order_is_a_seeded_permutation():
    a = epoch_order(0, 3, 100)
    assert sorted(a.tolist()) == list(range(100))
    np.testing.assert_array_equal(a, epoch_order(0, 3, 100))
    assert not np.array_equal(a, epoch_order(0, 4, 100)) and not np.array_equal(a, epoch_order(1, 3, 100))


def test_plateau_decays_after_patience_and_best_resets_counters():
    tc = load_config(None, ["train.lr_schedule=plateau", "train.lr_plateau_patience=2", "train.lr_decay=0.5"]).train
    progress, scales = Progress(), []
    for acc in [0.5, 0.6, 0.6, 0.55, 0.58, 0.7]:
        progress = progress.end_epoch(tc, acc)
        scales.append(progress.lr_scale)
    assert scales == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    assert (progress.best_epoch, progress.bad_epochs, progress.epoch, progress.best_valid_acc) == (6, 0, 6, 0.7)


def test_end_of_epoch_clears_the_running_sums_and_leaves_the_old_state_alone():
    tc = load_config(None, []).train
    progress = Progress()
    progress.add_step(2.0, 3, 4)
    progress.add_step(1.0, 4, 4)
    assert (progress.step_in_epoch, progress.train_loss, progress.train_acc) == (2, 1.5, 7 / 8)
    after = progress.end_epoch(tc, 0.9)
    assert (after.epoch, after.step_in_epoch, after.epoch_seen, after.best_epoch) == (1, 0, 0, 1)
    assert progress.epoch == 0 and progress.epoch_seen == 8


@pytest.fixture(scope="module")
def trainer():
    images, labels = make_dataset(8)
    cfg = load_config(None, ["train.batch_size=10", "train.epochs=2", "train.learning_rate=0.003"])
    with Trainer.start(cfg, STATS, 4, images, labels.astype(np.int64), CPU_ONE_TOWER) as t:
        yield t, images, labels


def test_steps_cover_an_epoch_in_seeded_order_and_learn(trainer):
    t, images, labels = trainer
    assert t.steps_per_epoch == 4  # 32 images in batches of 10: the last has 2
    order = np.concatenate([t.batch_indices(0, s) for s in range(4)])
    np.testing.assert_array_equal(order, epoch_order(0, 0, 32))
    before_loss, _ = t.evaluate(images, labels.astype(np.int64))
    sizes = []
    for epoch in range(3):
        sizes += [t.step(epoch, s)[2] for s in range(t.steps_per_epoch)]
    assert sizes[:4] == [10, 10, 10, 2] and t.global_step == 12
    after_loss, after_acc = t.evaluate(images, labels.astype(np.int64))
    assert after_loss < before_loss and 0.0 <= after_acc <= 1.0


def test_progress_round_trips_through_the_graph_state(trainer):
    t, _, _ = trainer
    progress = Progress(epoch=3, step_in_epoch=2, best_valid_acc=0.75, best_epoch=2, bad_epochs=1, lr_scale=0.5,
                        epoch_loss_sum=12.5, epoch_correct=7, epoch_seen=20)
    t.write_progress(progress)
    assert t.read_progress() == progress


def test_a_non_finite_loss_raises_diverged(trainer, monkeypatch):
    import signclf.trainer as trainer_module

    t, _, _ = trainer
    monkeypatch.setattr(trainer_module, "learning_rate", lambda *a: float("nan"))
    t.step(4, 0)  # the loss is computed before this step's (poisoned) update
    with pytest.raises(Diverged, match=r"loss is nan at epoch 5, step 2") as e:
        t.step(4, 1)
    assert e.value.epoch == 4 and e.value.step == 1
