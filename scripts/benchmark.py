#!/usr/bin/env python3
"""Train and infer the same LeNet-5 with signclf, tf.keras and PyTorch, side by side, on the same data.

    python scripts/benchmark.py                     # all installed frameworks, defaults below
    python scripts/benchmark.py --frameworks signclf,keras --steps 100 --repeats 5

What is measured, per framework and phase (train without augmentation, train with it, infer):
- train img/s: windows of `--steps` optimiser steps of `--batch-size` images, after `--warmup`
  untimed steps (graph building, tracing and first-step allocation are never timed);
- infer img/s: class probabilities for `--infer-images` uint8 images in batches of 1024;
- peak RSS: ru_maxrss of the framework's worker process over all three phases.

Each framework runs in its own fresh worker subprocess (`--worker NAME`), so its peak RSS is its
own and nothing is inherited from another framework. Phase by phase, the workers build and warm
up, then take turns: `--repeats` rounds of one timed window each, the order rotating every round,
only one of them running at a time (the others wait on a pipe). Other jobs on a shared machine
slow whichever window they overlap; medians of the windows (img/s) and the median of the
per-round paired ratios (signclf ÷ other, windows seconds apart) keep that from deciding.

The frameworks, kept as alike as each one's usual way of training allows:
- signclf: the product's own path: `build_train_graph` (data held in the graph, a step feeds
  indices), driven by the same per-step code as `signclf.train._loop`; inference through
  `build_inference_graph` and a Session fed uint8 batches, as evaluate/predict do.
- keras: a Sequential model, `model.fit` on the uint8 arrays in memory with shuffle=True; the
  pixels are normalised inside the model by a Normalization layer holding the same mean/std as
  signclf (no pre-normalised float copy), augmentation by Keras' Random* preprocessing layers plus
  a small gamma layer; inference is `model.predict(batch_size=1024)`, and a plain
  `model(x, training=False)` loop is reported as well.
- torch: eager PyTorch, uint8 data in a tensor on the device, batches indexed from a per-epoch
  randperm (its fastest idiom: a DataLoader over in-memory tensors would only be slower), the same
  augmentations written with affine_grid/grid_sample and tensor arithmetic, Adam, as many threads
  as cores; inference under no_grad.

Nothing is pinned to a device: on a machine with a GPU every framework uses it, and the table
says which device each one used. The environment passes through to the workers: on a CPU shared
with other jobs, PyTorch's OpenMP threads spin-wait for descheduled peers and slow down several
fold; OMP_WAIT_POLICY=PASSIVE is the usual remedy there, and the comparison is fairer with it.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

SHARED_TRAIN = REPO.parent / "shared" / "data" / "gtsrb" / "train.p"
ALL_FRAMEWORKS = ("signclf", "keras", "torch")
PHASES = ("train_noaug", "train_aug", "infer")

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

# signclf targets from the issue: (phase, other framework, minimum ratio signclf ÷ other).
TARGETS = [("train_aug", "keras", 1.5), ("train_aug", "torch", 1.0), ("train_noaug", "keras", 1.8),
           ("infer", "keras", 2.0), ("infer", "torch", 2.0)]


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
    from signclf.graph import build_inference_graph, build_train_graph, describe_device, session_config
    from signclf.preprocess import prepare_images
    from signclf.train import _seed_everything, epoch_order, learning_rate

    tf.disable_eager_execution()
    about = {"device": describe_device(), "version": f"tensorflow {tf.__version__} (compat.v1 graph + Session)"}
    cfg = signclf_config(args.batch_size, phase == "train_aug")
    if phase == "infer":
        net = build_inference_graph(cfg, stats, num_classes)
        sess = tf.Session(graph=net.graph, config=session_config(cfg))
        with net.graph.as_default():
            sess.run(tf.global_variables_initializer())  # random weights: speed does not depend on them
        images = inference_images(x, args.infer_images)

        def run_all(imgs):
            # LoadedRun.probabilities: prepare_images on each chunk, then one Session.run per chunk.
            for start in range(0, len(imgs), 1024):
                chunk = prepare_images(imgs[start:start + 1024], cfg.preprocess, cfg.data.image_size)
                sess.run(net.probabilities, {net.images: chunk})

        run_all(images[:1024])  # warm-up
        return about, lambda: {"img_s": rate(lambda: run_all(images), len(images))}, sess.close

    # The set-up of signclf.train.train, minus the run directory and the checkpoint writer.
    tc = cfg.train
    _seed_everything(tc.seed)
    mirror = gtsrb_mirror_table(num_classes) if cfg.augment.mirror_prob > 0 else None
    g = build_train_graph(cfg, stats, num_classes, x.shape, mirror)
    sess = tf.Session(graph=g.graph, config=session_config(cfg))
    with g.graph.as_default():
        sess.run([tf.global_variables_initializer()])
    sess.run(g.data_init, {g.images_source: x, g.labels_source: y})
    state = g.state.read(sess)
    n = len(x)
    steps_per_epoch = math.ceil(n / tc.batch_size)

    def steps():
        # The body of signclf.train._loop's step loop, minus the progress bar (as --no-progress) and the
        # signal check: same index feed, schedule call, fetches, divergence check and running sums.
        epoch = 0
        while True:
            order = epoch_order(tc.seed, epoch, n)
            loss_sum, correct, seen = 0.0, 0, 0
            for step in range(steps_per_epoch):
                idx = order[step * tc.batch_size:(step + 1) * tc.batch_size]
                lr = learning_rate(tc, epoch + step / steps_per_epoch, state["lr_scale"])
                _, loss, batch_correct = sess.run([g.train_op, g.loss, g.correct],
                                                  {g.batch_index: idx, g.learning_rate: lr})
                if not np.isfinite(loss):
                    raise RuntimeError(f"signclf diverged: loss {loss}")
                loss_sum, correct, seen = loss_sum + loss * len(idx), correct + batch_correct, seen + len(idx)
                yield len(idx)
            epoch += 1

    return about, StepWindow(steps(), args.warmup, args.steps), sess.close


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


# ---------------------------------------------------------------------------------------------
# parent: data, workers, interleaved rounds, table, JSON


class Worker:
    """A fresh `--worker NAME` subprocess for one framework; its stderr goes to a log file."""

    def __init__(self, args, name: str, data: str, tmp: str):
        self.name, self.log = name, os.path.join(tmp, f"{name}.log")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--data", data,
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch-size", str(args.batch_size),
               "--infer-images", str(args.infer_images)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                         env=env)

    def send(self, request) -> None:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            sys.exit(f"benchmark worker {self.name} failed (exit {self.proc.returncode}):\n"
                     f"{Path(self.log).read_text()[-4000:]}")
        return json.loads(line)

    def close(self) -> dict:
        self.send("quit")
        final = self.read()
        self.proc.wait()
        return final


def resolve_data(args, tmp: str) -> tuple[str, str]:
    """The shared GTSRB pickle when present (and not overridden), else a synthetic set in `tmp`."""
    if args.data:
        return args.data, f"{args.data}"
    if args.synthetic_per_class is None and SHARED_TRAIN.is_file():
        return str(SHARED_TRAIN), f"GTSRB {SHARED_TRAIN}"
    from signclf.data.synth import write_synthetic_dataset

    per_class = args.synthetic_per_class or 100
    info = write_synthetic_dataset(tmp, per_class=per_class, seed=0)
    return info["train_path"], f"synthetic, {per_class} per class ({info['train']} training images)"


def measure(args, frameworks, data: str, tmp: str) -> dict:
    """One fresh worker per framework. Phase by phase, all workers build and warm up (in parallel),
    then --repeats rounds of one timed window each, one worker at a time, the order rotating every
    round. Returns {framework: {"about", "windows": {phase: [window, ...]}, "peak_rss_mb"}}."""
    workers = {fw: Worker(args, fw, data, tmp) for fw in frameworks}
    out = {fw: {"windows": {}} for fw in frameworks}
    try:
        for phase in PHASES:
            t0 = time.time()
            for w in workers.values():
                w.send({"build": phase})
            for fw, w in workers.items():
                out[fw]["about"] = w.read()
            builds = ", ".join(f"{fw} {out[fw]['about']['build_s']:.0f}s" for fw in frameworks)
            print(f"  {phase}: built and warmed up in {time.time() - t0:.0f}s ({builds})", file=sys.stderr)
            for r in range(args.repeats):
                shift = r % len(frameworks)
                for fw in frameworks[shift:] + frameworks[:shift]:
                    time.sleep(0.2)  # let the previous worker's threads stop spinning before the clock starts
                    workers[fw].send("run")
                    out[fw]["windows"].setdefault(phase, []).append(workers[fw].read())
            print(f"  {phase}: {args.repeats} rounds timed, {time.time() - t0:.0f}s", file=sys.stderr)
        for fw, w in workers.items():
            out[fw]["peak_rss_mb"] = w.close()["peak_rss_mb"]
    finally:
        for w in workers.values():
            if w.proc.poll() is None:
                w.proc.kill()
    return out


def summarise(measured: dict) -> tuple[dict, dict]:
    """Median img/s per framework and phase; ratios = median over rounds of the paired per-round ratios
    (each round's windows ran seconds apart, so a slow patch on the machine hits both sides)."""
    results = {}
    for fw, m in measured.items():
        r = {"device": m["about"]["device"], "version": m["about"]["version"], "peak_rss_mb": m["peak_rss_mb"],
             "samples": {}}
        for phase, windows in m["windows"].items():
            for key in windows[0]:
                name = phase if key == "img_s" else f"{phase}_{key.removesuffix('_img_s')}"
                r[name] = statistics.median(w[key] for w in windows)
                r["samples"][name] = [round(w[key], 1) for w in windows]
        results[fw] = r
    ratio = {}
    if "signclf" in measured:
        mine = measured["signclf"]["windows"]
        for other in (fw for fw in measured if fw != "signclf"):
            theirs = measured[other]["windows"]
            ratio[f"signclf/{other}"] = {
                phase: statistics.median(a["img_s"] / b["img_s"] for a, b in zip(mine[phase], theirs[phase]))
                for phase in PHASES}
    return results, ratio


def check_targets(ratio: dict) -> list[dict]:
    return [{"phase": phase, "versus": other, "target": minimum,
             "ratio": round(ratio[f"signclf/{other}"][phase], 3), "met": ratio[f"signclf/{other}"][phase] >= minimum}
            for phase, other, minimum in TARGETS if f"signclf/{other}" in ratio]


def print_table(results: dict, ratio: dict, targets: list[dict]) -> None:
    print(f"\n{'framework':10s} {'train img/s':>12s} {'train+aug img/s':>16s} {'infer img/s':>12s} "
          f"{'peak RSS MB':>12s}  device")
    for fw, r in results.items():
        print(f"{fw:10s} {r['train_noaug']:12,.0f} {r['train_aug']:16,.0f} {r['infer']:12,.0f} "
              f"{r['peak_rss_mb']:12,.0f}  {r['device']}")
    if "keras" in results:
        print(f"(keras infer = model.predict; a plain model(x) loop: {results['keras']['infer_call']:,.0f} img/s)")
    if ratio:
        print(f"\n{'ratio (paired)':16s} {'train':>8s} {'train+aug':>10s} {'infer':>8s}")
        for name, r in ratio.items():
            print(f"{name:16s} {r['train_noaug']:7.2f}× {r['train_aug']:9.2f}× {r['infer']:7.2f}×")
    if targets:
        print("\ntargets: " + "; ".join(f"{t['phase']} vs {t['versus']} {t['ratio']:.2f}× "
                                        f"(≥{t['target']}×: {'met' if t['met'] else 'MISSED'})" for t in targets))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    p.add_argument("--frameworks", default=",".join(ALL_FRAMEWORKS),
                   help="comma-separated subset of signclf,keras,torch (torch is skipped when not installed)")
    p.add_argument("--steps", type=int, default=200, help="training steps per timed window (default 200)")
    p.add_argument("--warmup", type=int, default=10, help="untimed training steps before the first window")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed windows per framework and phase, interleaved; medians are reported (default 5)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--infer-images", type=int, default=10240, help="images classified per inference timing")
    p.add_argument("--data", help="a Udacity-layout train pickle (default: the shared GTSRB train.p if present)")
    p.add_argument("--synthetic-per-class", type=int,
                   help="use a synthetic set with this many images per class (default when no shared data: 100)")
    p.add_argument("--out", default=str(REPO / "bench" / "benchmark.json"), help="JSON results file")
    p.add_argument("--worker", choices=ALL_FRAMEWORKS, help=argparse.SUPPRESS)  # internal: a worker process
    args = p.parse_args(argv)
    if min(args.steps, args.repeats, args.batch_size, args.infer_images) < 1 or args.warmup < 0:
        p.error("--steps, --repeats, --batch-size and --infer-images must be >= 1, --warmup >= 0")
    if args.worker:
        return run_worker(args)

    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = sorted(set(frameworks) - set(ALL_FRAMEWORKS))
    if unknown:
        p.error(f"unknown framework(s) {', '.join(unknown)}; choose from {', '.join(ALL_FRAMEWORKS)}")
    skipped = {}
    if "torch" in frameworks:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            frameworks.remove("torch")
            skipped["torch"] = "not installed (pip install torch, or the 'bench' extra)"
            print("torch is not installed: skipping it", file=sys.stderr)

    load_before = os.getloadavg()[0]  # other jobs on this machine skew every number: keep it on record
    if load_before > 0.5:
        print(f"note: the 1-minute load average is {load_before:.1f} before starting; other jobs will slow "
              f"whichever framework they overlap (the median over rounds limits the damage)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="signclf-bench-") as tmp:
        data, data_desc = resolve_data(args, tmp)
        print(f"LeNet-5, batch {args.batch_size}, {args.warmup}+{args.steps} steps, {args.repeats} rounds; "
              f"data: {data_desc}; frameworks: {', '.join(frameworks)}", file=sys.stderr)
        measured = measure(args, frameworks, data, tmp)

    results, ratio = summarise(measured)
    targets = check_targets(ratio)
    print_table(results, ratio, targets)
    report = {"settings": {"steps": args.steps, "warmup": args.warmup, "repeats": args.repeats,
                           "batch_size": args.batch_size, "infer_images": args.infer_images, "data": data_desc,
                           "keras_input": "uint8 arrays, normalised in-model by a Normalization layer",
                           "statistic": "img/s: median of the windows; ratios: median of per-round paired ratios"},
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "load_avg_1min_before": round(load_before, 2),
                          "load_avg_1min_after": round(os.getloadavg()[0], 2)},
              "results": results, "ratios": ratio, "targets": targets, "skipped": skipped}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from signclf.atomic import atomic_write_json

    atomic_write_json(out, report)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
