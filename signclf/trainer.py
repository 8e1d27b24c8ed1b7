"""The training step and the state it carries, usable without a run directory.

`Trainer.start` builds the training graph for a `Device`, opens its Session and loads the
prepared images into device memory; `Trainer.step` runs one optimisation step. `signclf train`'s
epoch loop, the benchmark and sweeps all train through these, so they measure and run the same code.

Reproducibility is designed in: the epoch's shuffle is a function of (seed, epoch), augmentation
and dropout are stateless functions of (seed, global step), and every counter of `Progress` lives
in the checkpoint, so a resumed run continues with exactly the batches, transforms and learning
rate the uninterrupted run would have used.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

import numpy as np

from signclf.config import Config, TrainConfig
from signclf.device import Device
from signclf.errors import SignclfError


class Diverged(SignclfError):
    """The loss became NaN or infinite: the weights of this step are not worth saving."""

    def __init__(self, loss: float, epoch: int, step: int):
        super().__init__(f"training diverged: loss is {loss} at epoch {epoch + 1}, step {step + 1}")
        self.loss, self.epoch, self.step = loss, epoch, step


def learning_rate(tc: TrainConfig, epoch_progress: float, lr_scale: float) -> float:
    """The schedule as a pure function of (fractional) epoch; plateau decay enters via lr_scale."""
    base, e = tc.learning_rate, epoch_progress
    if tc.lr_schedule == "exponential":
        lr = base * tc.lr_decay ** e
    elif tc.lr_schedule == "step":
        lr = base * tc.lr_decay ** (int(e) // tc.lr_step_epochs)
    elif tc.lr_schedule == "cosine":
        lr = tc.lr_min + (base - tc.lr_min) * 0.5 * (1 + math.cos(math.pi * min(e / tc.epochs, 1.0)))
    elif tc.lr_schedule == "plateau":
        lr = max(base * lr_scale, tc.lr_min)
    else:
        lr = base
    if tc.warmup_epochs > 0 and e < tc.warmup_epochs:
        lr *= max(e / tc.warmup_epochs, 1e-3)
    return lr


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """Shuffle by index permutation, a function of (seed, epoch) only."""
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)


def seed_everything(seed: int) -> None:
    import tensorflow.compat.v1 as tf

    random.seed(seed)
    np.random.seed(seed % 2**32)
    tf.set_random_seed(seed)


@dataclass
class Progress:
    """Where training stands; mirrored into the checkpoint's `train_state/*` variables."""

    epoch: int = 0  # completed epochs
    step_in_epoch: int = 0  # steps done of the current epoch (non-zero only after an interruption)
    best_valid_acc: float = 0.0
    best_epoch: int = 0
    bad_epochs: int = 0  # epochs since the best one (early stopping)
    plateau_bad_epochs: int = 0  # the same, reset at every plateau decay
    lr_scale: float = 1.0  # product of plateau decays
    # the current epoch's running train loss and accuracy, so an interrupted epoch's row covers all its steps
    epoch_loss_sum: float = 0.0
    epoch_correct: int = 0
    epoch_seen: int = 0

    def add_step(self, loss: float, correct: int, n: int) -> None:
        self.epoch_loss_sum += loss * n
        self.epoch_correct += int(correct)
        self.epoch_seen += n
        self.step_in_epoch += 1

    @property
    def train_loss(self) -> float:
        return self.epoch_loss_sum / max(self.epoch_seen, 1)

    @property
    def train_acc(self) -> float:
        return self.epoch_correct / max(self.epoch_seen, 1)

    def end_epoch(self, tc: TrainConfig, valid_acc: float | None) -> Progress:
        """The state after an epoch with this validation accuracy: best, patience, plateau decay.
        Without validation (None: a final model) every epoch is the best so far."""
        after = dataclasses.replace(self, epoch=self.epoch + 1, step_in_epoch=0, epoch_loss_sum=0.0,
                                    epoch_correct=0, epoch_seen=0)
        if valid_acc is None:
            return dataclasses.replace(after, best_epoch=after.epoch)
        if valid_acc > self.best_valid_acc:
            return dataclasses.replace(after, best_valid_acc=valid_acc, best_epoch=after.epoch, bad_epochs=0,
                                       plateau_bad_epochs=0)
        after.bad_epochs += 1
        after.plateau_bad_epochs += 1
        if tc.lr_schedule == "plateau" and after.plateau_bad_epochs >= tc.lr_plateau_patience:
            after.lr_scale *= tc.lr_decay
            after.plateau_bad_epochs = 0
        return after


class Trainer:
    """A training graph in a live Session, its data loaded: one call per optimisation step."""

    def __init__(self, cfg: Config, graph, sess, n_images: int):
        self.cfg, self.g, self.sess = cfg, graph, sess
        self.n_images = n_images
        self.steps_per_epoch = math.ceil(n_images / cfg.train.batch_size)
        self._order = (None, None)  # (epoch, its shuffle), computed once per epoch

    @classmethod
    def start(cls, cfg: Config, stats: dict, num_classes: int, images: np.ndarray, labels: np.ndarray,
              device: Device, mirror_table=None, teacher_targets: np.ndarray | None = None) -> Trainer:
        """Build the graph, open the Session, initialise the variables and load the images (and the
        teacher's N×K probabilities for them, when distilling)."""
        import tensorflow.compat.v1 as tf

        from signclf.graph import build_train_graph

        tf.disable_eager_execution()
        seed_everything(cfg.train.seed)
        g = build_train_graph(cfg, stats, num_classes, images.shape, device, mirror_table,
                              teacher=teacher_targets is not None)
        sess = tf.Session(graph=g.graph, config=device.session_config())
        try:
            with g.graph.as_default():
                sess.run(tf.global_variables_initializer())
            feed = {g.images_source: images, g.labels_source: labels}
            if teacher_targets is not None:
                feed[g.teacher_source] = teacher_targets
            sess.run(g.data_init, feed)
        except BaseException:
            sess.close()
            raise
        return cls(cfg, g, sess, len(images))

    def batch_indices(self, epoch: int, step: int) -> np.ndarray:
        if self._order[0] != epoch:
            self._order = (epoch, epoch_order(self.cfg.train.seed, epoch, self.n_images))
        size = self.cfg.train.batch_size
        return self._order[1][step * size:(step + 1) * size]

    def step(self, epoch: int, step: int, lr_scale: float = 1.0) -> tuple[float, int, int, float]:
        """One optimisation step on batch `step` of `epoch`: (loss, correct, images, learning rate)."""
        idx = self.batch_indices(epoch, step)
        lr = learning_rate(self.cfg.train, epoch + step / self.steps_per_epoch, lr_scale)
        _, loss, correct = self.sess.run([self.g.train_op, self.g.loss, self.g.correct],
                                         {self.g.batch_index: idx, self.g.learning_rate: lr})
        if not np.isfinite(loss):
            raise Diverged(float(loss), epoch, step)
        return float(loss), int(correct), len(idx), lr

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """(mean loss, accuracy) of the current weights on prepared images, without augmentation."""
        loss_sum, correct = 0.0, 0
        size = self.cfg.train.eval_batch_size
        for start in range(0, len(images), size):
            batch_loss, batch_correct = self.sess.run(
                [self.g.eval_loss_sum, self.g.eval_correct],
                {self.g.eval_images: images[start:start + size], self.g.eval_labels: labels[start:start + size]})
            loss_sum, correct = loss_sum + batch_loss, correct + batch_correct
        return loss_sum / len(images), correct / len(images)

    def read_progress(self) -> Progress:
        values = self.g.state.read(self.sess)
        return Progress(**{f.name: values[f.name] for f in dataclasses.fields(Progress)})

    def write_progress(self, progress: Progress) -> None:
        self.g.state.write(self.sess, **dataclasses.asdict(progress))

    @property
    def global_step(self) -> int:
        return int(self.sess.run(self.g.state.global_step))

    def close(self) -> None:
        self.sess.close()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
