"""Load trained runs for inference and turn prepared images into class probabilities.

Evaluate and predict both come through here; several runs form a committee whose softmax outputs
are averaged (Cireşan et al.'s recipe for GTSRB).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from signclf import rundir
from signclf.config import INFERENCE_BATCH_SIZE
from signclf.errors import CheckpointError
from signclf.preprocess import prepare_images


class LoadedRun:
    """A run's inference graph in its own Session, with its best (or last) weights restored."""

    def __init__(self, run_dir, checkpoint: str = "best"):
        from signclf.checkpoints import find_checkpoint, restore
        from signclf.graph import weights_to_restore

        self.run_dir = Path(run_dir)
        info = rundir.read_run(self.run_dir)
        self._start(info.cfg, info.stats, info.class_names)
        try:
            self.checkpoint = find_checkpoint(self.run_dir, checkpoint)  # .note says so when it fell back to last
            restore(self.sess, self.checkpoint, weights_to_restore(self.net.graph, info.cfg.train.ema_decay > 0),
                    f"run {self.run_dir}")
        except BaseException:
            self.close()
            raise

    @classmethod
    def untrained(cls, cfg, stats: dict, class_names) -> LoadedRun:
        """The same inference path with freshly initialised weights (for benchmarks: speed does not
        depend on the weights)."""
        import tensorflow.compat.v1 as tf

        run = cls.__new__(cls)
        run.run_dir, run.checkpoint = None, None
        run._start(cfg, stats, list(class_names))
        with run.net.graph.as_default():
            run.sess.run(tf.global_variables_initializer())
        return run

    def _start(self, cfg, stats, class_names):
        import tensorflow.compat.v1 as tf

        from signclf.device import Device
        from signclf.graph import build_inference_graph

        tf.disable_eager_execution()
        self.cfg, self.stats, self.class_names = cfg, stats, class_names
        self.device = Device.for_inference(cfg.train.mixed_precision)
        self.net = build_inference_graph(cfg, stats, len(class_names), self.device)
        self.sess = tf.Session(graph=self.net.graph, config=self.device.session_config())
        self._pool = None  # threads for overlapping chunks, made on first use

    def probabilities(self, images_rgb, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """RGB uint8 images (array or list of any sizes) → N×K softmax, through the run's preprocessing."""

        def run_chunk(start):
            chunk = prepare_images(images_rgb[start:start + batch_size], self.cfg.preprocess,
                                   self.cfg.data.image_size)
            return self.sess.run(self.net.probabilities, {self.net.images: chunk})

        starts = range(0, len(images_rgb), batch_size)
        if len(starts) > 1:
            # Two chunks in flight: while one runs, the next is prepared and fed, and the cores
            # never idle between Session.run calls (about 8% more images/s on 2 cores).
            if self._pool is None:
                self._pool = ThreadPoolExecutor(2, thread_name_prefix="signclf-infer")
            out = list(self._pool.map(run_chunk, starts))
        else:
            out = [run_chunk(start) for start in starts]
        return np.concatenate(out) if out else np.zeros((0, len(self.class_names)), np.float32)

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()
        self.sess.close()


class Committee:
    """One or more runs; `probabilities` averages their softmax outputs."""

    def __init__(self, run_dirs, checkpoint: str = "best"):
        runs = []
        try:
            for run_dir in run_dirs:
                runs.append(LoadedRun(run_dir, checkpoint))
        except BaseException:
            for run in runs:
                run.close()
            raise
        self._adopt(runs)

    @classmethod
    def of(cls, runs) -> Committee:
        """A committee of runs that are already loaded (it closes them when it is closed)."""
        committee = cls.__new__(cls)
        committee._adopt(list(runs))
        return committee

    def _adopt(self, runs) -> None:
        self.runs = runs
        names = runs[0].class_names
        for run in runs[1:]:
            if run.class_names != names:
                self.close()
                raise CheckpointError(f"{run.run_dir}: its classes differ from {runs[0].run_dir}'s; "
                                      f"a committee needs runs trained on the same classes")
        self.class_names = names

    @property
    def cfg(self):
        return self.runs[0].cfg

    @property
    def members(self) -> list:
        """The models averaged (as runtime.BundleCommittee.members)."""
        return self.runs

    def probabilities(self, images_rgb, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        return np.mean([run.probabilities(images_rgb, batch_size) for run in self.runs], axis=0)

    def close(self):
        for run in self.runs:
            run.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
