"""Load trained runs for inference and turn prepared images into class probabilities.

Evaluate and predict both come through here; several runs form a committee whose softmax outputs
are averaged (Cireşan et al.'s recipe for GTSRB).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signclf import rundir
from signclf.errors import CheckpointError
from signclf.preprocess import prepare_images


class LoadedRun:
    """A run's inference graph in its own Session, with its best weights restored."""

    def __init__(self, run_dir):
        import tensorflow.compat.v1 as tf

        from signclf.checkpoints import find_checkpoint, restore
        from signclf.graph import build_inference_graph, model_variables, session_config

        tf.disable_eager_execution()
        self.run_dir = Path(run_dir)
        self.cfg, self.stats, self.class_names = rundir.load_run(self.run_dir)
        self.checkpoint = find_checkpoint(self.run_dir, "best")
        self.net = build_inference_graph(self.cfg, self.stats, len(self.class_names))
        self.sess = tf.Session(graph=self.net.graph, config=session_config(self.cfg))
        restore(self.sess, self.checkpoint, model_variables(self.net.graph), f"run {self.run_dir}")

    def probabilities(self, images_rgb, batch_size: int = 1024) -> np.ndarray:
        """RGB uint8 images (array or list of any sizes) → N×K softmax, through the run's preprocessing."""
        out = []
        for start in range(0, len(images_rgb), batch_size):
            chunk = prepare_images(images_rgb[start:start + batch_size], self.cfg.preprocess,
                                   self.cfg.data.image_size)
            out.append(self.sess.run(self.net.probabilities, {self.net.images: chunk}))
        return np.concatenate(out) if out else np.zeros((0, len(self.class_names)), np.float32)

    def close(self):
        self.sess.close()


class Committee:
    """One or more runs; `probabilities` averages their softmax outputs."""

    def __init__(self, run_dirs):
        self.runs = [LoadedRun(r) for r in run_dirs]
        names = self.runs[0].class_names
        for run in self.runs[1:]:
            if run.class_names != names:
                raise CheckpointError(f"{run.run_dir}: its classes differ from {self.runs[0].run_dir}'s; "
                                      f"a committee needs runs trained on the same classes")
        self.class_names = names

    @property
    def cfg(self):
        return self.runs[0].cfg

    def probabilities(self, images_rgb, batch_size: int = 1024) -> np.ndarray:
        return np.mean([run.probabilities(images_rgb, batch_size) for run in self.runs], axis=0)

    def close(self):
        for run in self.runs:
            run.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
