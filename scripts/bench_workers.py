#!/usr/bin/env python3
"""The benchmark's workers: one framework each (signclf, tf.keras, PyTorch), driven by
scripts/benchmark.py over a pipe. See that file for what is measured and how.
"""

from __future__ import annotations

import gc
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

# The classic LeNet-5 spelled out in full, so edits to configs/lenet.yaml (or to the config
# defaults) never change what is compared with the Keras and PyTorch copies below.
LENET = {
    "name": "bench-lenet",
    "preprocess": {"color": "rgb", "equalize": "none", "normalize": True},
    "model": {"conv": [{"kernel": 5, "depth": 6, "padding": "VALID", "pool": 2},
                       {"kernel": 5, "depth": 16, "padding": "VALID", "pool": 2}],
              "fc": [120, 84], "keep_prob": 1.0, "l2": 0.0, "batch_norm": False, "multiscale": False},
    "train": {"learning_rate": 0.001, "seed": 0},
}

# ---------------------------------------------------------------------------------------------
# shared by the workers


def signclf_config(batch_size: int, augment: bool):
    """Classic LeNet-5 + the AugmentConfig defaults (rotation/shift/scale/shear/colour/gamma)."""
    from signclf.config import config_from_dict

    raw = json.loads(json.dumps(LENET))
    raw["train"]["batch_size"] = batch_size
    raw["augment"] = {"enabled": augment}
    return config_from_dict(raw, "<benchmark>")


def load_data(path: str):
    """uint8 N×32×32×3 RGB, int64 labels, the preprocessing stats signclf would save with the run."""
    from signclf.data.pickles import read_pickle
    from signclf.preprocess import compute_stats, prepare_images

    cfg = signclf_config(128, False)
    ds = read_pickle(path)
    x = prepare_images(ds.images, cfg.preprocess, cfg.data.image_size)
    return x, ds.labels.astype(np.int64), compute_stats(x, cfg.preprocess), ds.num_classes


def inference_images(x: np.ndarray, count: int) -> np.ndarray:
    """`count` images, the training set repeated if it is smaller (so every batch is full)."""
    return x[np.arange(count) % len(x)]


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def aug_defaults() -> dict:
    from signclf.config import AugmentConfig

    return vars(AugmentConfig())


# ---------------------------------------------------------------------------------------------
# A worker process serves one framework: it builds one phase at a time, warms it up, then runs a
# timed window each time the parent asks. A builder returns (about, window, close), where
# window() → {metric: img/s} and close() releases the phase's session or model.


class StepWindow:
    """Times `steps` items of a generator that yields the batch size of each training step it ran."""

    def __init__(self, step_iter, warmup: int, steps: int, sync=lambda: None):
        self.step_iter, self.steps, self.sync = step_iter, steps, sync
        for _ in range(warmup):
            next(step_iter)

    def __call__(self) -> dict:
        self.sync()
        t0, images = time.perf_counter(), 0
        for _ in range(self.steps):
            images += next(self.step_iter)
        self.sync()
        return {"img_s": images / (time.perf_counter() - t0)}


def rate(fn, count: int) -> float:
    t0 = time.perf_counter()
    fn()
    return count / (time.perf_counter() - t0)


def signclf_phase(args, phase, x, y, stats, num_classes):
    import tensorflow.compat.v1 as tf

    from signclf.augment import gtsrb_mirror_table
    from signclf.device import Device
    from signclf.inference import LoadedRun
    from signclf.trainer import Trainer

    tf.disable_eager_execution()
    cfg = signclf_config(args.batch_size, phase == "train_aug")
    if phase == "infer":
        # The product's own inference path (LoadedRun.probabilities, as evaluate and predict use),
        # with random weights: speed does not depend on them.
        run = LoadedRun.untrained(cfg, stats, [str(c) for c in range(num_classes)])
        about = {"device": run.device.describe(), "version": f"tensorflow {tf.__version__} (compat.v1 graph + Session)"}
        images = inference_images(x, args.infer_images)
        run.probabilities(images[:2048])  # warm-up
        return about, lambda: {"img_s": rate(lambda: run.probabilities(images), len(images))}, run.close

    # The product's training step (signclf.trainer), as `signclf train` runs it without a run directory.
    device = Device.for_training(cfg.train)
    about = {"device": device.describe(), "version": f"tensorflow {tf.__version__} (compat.v1 graph + Session)"}
    mirror = gtsrb_mirror_table(num_classes) if cfg.augment.mirror_prob > 0 else None
    trainer = Trainer.start(cfg, stats, num_classes, x, y, device, mirror)

    def steps():
        epoch = 0
        while True:
            for step in range(trainer.steps_per_epoch):
                yield trainer.step(epoch, step)[2]
            epoch += 1

    return about, StepWindow(steps(), args.warmup, args.steps), trainer.close


def keras_model(stats, num_classes, augment: bool):
    import keras
    from keras import layers

    a = aug_defaults()

    class RandomGamma(layers.Layer):
        """x ↦ 255·(x/255)^γ, log γ ~ U(±gamma) per image, as signclf's augment (Keras has no such layer)."""

        def __init__(self, factor, **kw):
            super().__init__(**kw)
            self.factor, self.seed = factor, keras.random.SeedGenerator(0)

        def call(self, x, training=None):
            if not training:
                return x
            ops = keras.ops
            log_gamma = keras.random.uniform([ops.shape(x)[0], 1, 1, 1], -self.factor, self.factor, seed=self.seed)
            return 255.0 * ops.power(ops.clip(x, 0.0, 255.0) / 255.0 + 1e-6, ops.exp(log_gamma))

    aug = []
    if augment:  # the AugmentConfig defaults, one Keras layer each; they act only in training
        aug = [layers.RandomRotation(a["rotation"] / 360, fill_mode="reflect", seed=1),
               layers.RandomTranslation(a["shift"], a["shift"], fill_mode="reflect", seed=2),
               layers.RandomZoom(a["scale"], fill_mode="reflect", seed=3),
               layers.RandomShear(x_factor=a["shear"], fill_mode="reflect", seed=4),
               layers.RandomBrightness(a["brightness"], value_range=(0, 255), seed=5),
               layers.RandomContrast(a["contrast"], value_range=(0, 255), seed=6),
               layers.RandomSaturation(a["saturation"], value_range=(0, 255), seed=7),
               RandomGamma(a["gamma"])]
    std = np.asarray(stats["std"], np.float32)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        *aug,
        layers.Normalization(mean=np.asarray(stats["mean"], np.float32), variance=std ** 2),
        layers.Conv2D(6, 5, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(16, 5, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"),
        layers.Dense(num_classes),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def keras_phase(args, phase, x, y, stats, num_classes):
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)  # as signclf's allow_growth
        except RuntimeError:  # a later phase: the GPU is initialised already, with growth on
            pass
    keras.utils.set_random_seed(0)
    about = {"device": f"GPU ({len(gpus)} visible)" if gpus else f"CPU ({os.cpu_count()} cores)",
             "version": f"keras {keras.__version__} on tensorflow {tf.__version__} (model.fit/predict)"}
    model = keras_model(stats, num_classes, phase == "train_aug")
    if phase == "infer":
        images = inference_images(x, args.infer_images)

        def call_all():  # the plain-call alternative to predict: eager calls on uint8 chunks
            for i in range(0, len(images), 1024):
                tf.nn.softmax(model(images[i:i + 1024], training=False)).numpy()

        model.predict(images[:1024], batch_size=1024, verbose=0)  # warm-up: traces predict_function
        call_all()
        return about, lambda: {"img_s": rate(lambda: model.predict(images, batch_size=1024, verbose=0), len(images)),
                               "call_img_s": rate(call_all, len(images))}, keras.backend.clear_session

    steps_per_epoch = math.ceil(len(x) / args.batch_size)

    class StepTimer(keras.callbacks.Callback):
        """Times batches skip+1 .. skip+steps of one fit; reading the loss waits for the step (GPU)."""

        def __init__(self, skip: int, steps: int):
            super().__init__()
            self.skip, self.steps, self.done, self.images, self.t0, self.t1 = skip, steps, 0, 0, None, None

        def on_train_batch_end(self, batch, logs=None):
            self.done += 1
            if self.done > self.skip:  # an epoch's last batch holds the remainder
                self.images += args.batch_size if batch < steps_per_epoch - 1 else len(x) - batch * args.batch_size
            if self.done in (self.skip, self.skip + self.steps):
                float(logs["loss"])
                if self.done == self.skip:
                    self.t0 = time.perf_counter()
                else:
                    self.t1 = time.perf_counter()
                    self.model.stop_training = True

    def fit(skip: int, steps: int) -> float:
        timer = StepTimer(skip, steps)
        # Enough epochs for the steps; stop_training ends fit right after the last timed step.
        epochs = math.ceil((skip + steps) / steps_per_epoch) + 1
        model.fit(x, y, batch_size=args.batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[timer])
        return timer.images / (timer.t1 - timer.t0)

    fit(1, max(args.warmup, 1))  # warm-up: traces train_function
    # Each window is one fit call whose first batch is not timed: it pays for building the input
    # pipeline, which a real fit pays once per call, not per step.
    return about, lambda: {"img_s": fit(1, args.steps)}, keras.backend.clear_session


def torch_net(num_classes):
    from torch import nn

    return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, num_classes))


def torch_augment(x, gen, luma):
    """The AugmentConfig defaults on a float N×C×H×W batch in [0, 255], per image, on x's device.
    `luma` is the 1×3×1×1 tensor of RGB → gray weights (made once, not every step)."""
    import torch
    import torch.nn.functional as F

    a = aug_defaults()
    n, dev = x.shape[0], x.device

    def u(*shape):
        return torch.rand(*shape, generator=gen, device=dev) * 2 - 1

    theta = u(n) * math.radians(a["rotation"])
    scale = 1 + u(n) * a["scale"]
    shear = u(n) * a["shear"]
    tx, ty = u(n) * a["shift"] * 2, u(n) * a["shift"] * 2  # affine_grid's coordinates span [-1, 1]
    cos, sin = torch.cos(theta), torch.sin(theta)
    # output → input map in normalised coordinates (what affine_grid wants): rotation·shear·scale + shift
    mat = torch.stack([torch.stack([scale * cos, scale * (shear * cos - sin), tx], 1),
                       torch.stack([scale * sin, scale * (shear * sin + cos), ty], 1)], 1)
    grid = F.affine_grid(mat, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    x = x + (u(n) * a["brightness"] * 255).view(-1, 1, 1, 1)
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * (1 + u(n) * a["contrast"]).view(-1, 1, 1, 1) + mean
    gray = (x * luma).sum(1, keepdim=True)
    x = gray + (x - gray) * (1 + u(n) * a["saturation"]).view(-1, 1, 1, 1)
    x = x.clamp(0, 255)
    x = 255 * (x / 255 + 1e-6).pow(torch.exp(u(n) * a["gamma"]).view(-1, 1, 1, 1))
    return x.clamp(0, 255)


def torch_phase(args, phase, x, y, stats, num_classes):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    about = {"device": f"GPU ({torch.cuda.get_device_name(0)})" if dev.type == "cuda" else
             f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)",
             "version": f"torch {torch.__version__} (eager)"}
    mean = torch.tensor(stats["mean"], device=dev).view(1, 3, 1, 1)
    std = torch.tensor(stats["std"], device=dev).view(1, 3, 1, 1)
    model = torch_net(num_classes).to(dev)
    if phase == "infer":
        model.eval()
        images = inference_images(x, args.infer_images)

        def run_all(imgs):
            with torch.no_grad():
                for start in range(0, len(imgs), 1024):
                    xb = torch.from_numpy(imgs[start:start + 1024]).to(dev).permute(0, 3, 1, 2).float()
                    torch.softmax(model((xb - mean) / std), 1).cpu().numpy()

        run_all(images[:1024])
        return about, lambda: {"img_s": rate(lambda: run_all(images), len(images))}, lambda: None

    x_dev = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().to(dev)  # uint8 NCHW, PyTorch's layout
    y_dev = torch.from_numpy(y).to(dev)
    gen = torch.Generator(device=dev).manual_seed(0)
    luma = torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n, bs, augment = len(x_dev), args.batch_size, phase == "train_aug"
    model.train()

    def steps():
        while True:
            order = torch.randperm(n, device=dev)
            loss_sum, correct = torch.zeros((), device=dev), torch.zeros((), device=dev)
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                xb = x_dev[idx].float()
                if augment:
                    xb = torch_augment(xb, gen, luma)
                logits = model((xb - mean) / std)
                loss = F.cross_entropy(logits, y_dev[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                # running totals stay on the device: no per-step host sync (the fast idiom on a GPU)
                loss_sum += loss.detach() * len(idx)
                correct += (logits.argmax(1) == y_dev[idx]).sum()
                yield len(idx)

    return about, StepWindow(steps(), args.warmup, args.steps, sync), lambda: None


BUILDERS = {"signclf": signclf_phase, "keras": keras_phase, "torch": torch_phase}


def run_worker(args) -> None:
    """Worker side: one JSON request per line on stdin, one JSON reply line each.

    {"build": PHASE} drops the previous phase's graph/model and builds and warms up this one;
    "run" times one window of the current phase; "quit" answers with the peak RSS and exits.
    """
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the frameworks print goes to the log, never into the replies
    if args.worker == "keras":
        os.environ["KERAS_BACKEND"] = "tensorflow"  # the tf.keras comparison, whatever keras.json says
    x, y, stats, num_classes = load_data(args.data)
    window, close = None, lambda: None
    for line in sys.stdin:
        request = json.loads(line)
        if request == "quit":
            break
        if request == "run":
            reply.write(json.dumps(window()) + "\n")
            continue
        close()
        window = None
        gc.collect()
        t0 = time.perf_counter()
        about, window, close = BUILDERS[args.worker](args, request["build"], x, y, stats, num_classes)
        reply.write(json.dumps(dict(about, build_s=round(time.perf_counter() - t0, 1))) + "\n")
    reply.write(json.dumps({"peak_rss_mb": peak_rss_mb()}) + "\n")
