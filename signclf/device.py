"""What this machine offers and how the graphs should use it, decided once per process.

`Device.for_training(cfg.train)` and `Device.for_inference()` inspect the hardware (GPUs, the
cores this process may use) and turn it into every device decision the graph builders and the
Session need: towers, float16, the blocked first convolution, thread pools, XLA. Nothing else in
signclf looks at devices; the builders receive a `Device`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from signclf.config import TrainConfig
from signclf.errors import ConfigError

# Towers split a batch; each keeps at least this many images so its convolutions stay efficient.
MIN_IMAGES_PER_TOWER = 32
MAX_CPU_TOWERS = 8
# Caps the cores a process uses: a sweep trial sets it to the CPUs Ray reserved for it, so trials
# sharing a machine do not each run towers and thread pools for every core.
CORES_ENV = "SIGNCLF_CPUS"


@functools.lru_cache(maxsize=1)
def gpu_names() -> tuple[str, ...]:
    """The GPUs TensorFlow sees; asked once per process (the answer cannot change while it runs)."""
    import tensorflow as tf

    return tuple(d.name for d in tf.config.list_physical_devices("GPU"))


def usable_cores() -> int:
    try:
        cores = len(os.sched_getaffinity(0))  # what this process may use, not what the host has
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    limit = os.environ.get(CORES_ENV, "").strip()
    if not limit:
        return cores
    if not limit.isdigit() or int(limit) < 1:
        raise ConfigError(f"{CORES_ENV}={limit}: expected a whole number of cores >= 1; unset it to use all")
    return min(cores, int(limit))


@functools.lru_cache(maxsize=1)
def _gpu_description(gpus: tuple[str, ...]) -> str:
    import tensorflow as tf

    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    more = f", {len(gpus)} visible" if len(gpus) > 1 else ""
    return f"GPU ({details.get('device_name', gpus[0])}{more})"


def auto_towers(cores: int, batch_size: int) -> int:
    """One tower per core, each with at least MIN_IMAGES_PER_TOWER images, at most MAX_CPU_TOWERS.

    On a CPU, LeNet-sized convolutions are too small for oneDNN to spread one op over several
    cores efficiently: two single-threaded towers, each taking half the batch, run 1.3× faster
    than one two-threaded graph on 2 cores.
    """
    return max(1, min(cores, batch_size // MIN_IMAGES_PER_TOWER, MAX_CPU_TOWERS))


@dataclass(frozen=True)
class Device:
    """Every device decision, as plain values: the graph builders and the Session read these."""

    name: str  # for the model line: "CPU (2 cores)" or "GPU (NVIDIA H200)"
    gpu: bool
    cores: int
    towers: int  # weight-sharing copies of the network that each take a slice of every batch
    float16: bool  # compute in float16 (weights stay float32)
    blocked_conv: bool  # run a narrow conv0 + 2×2 pool as one stride-2 convolution (model._conv_then_pool)
    xla: bool = False
    tower_devices: tuple[str, ...] = ()  # where each tower runs ("/gpu:0", "/gpu:1"); empty = TensorFlow places

    @classmethod
    def detect(cls, *, towers: int = 0, batch_size: int = 128, mixed_precision: bool = False,
               xla: bool = False) -> Device:
        gpus = gpu_names()
        cores = usable_cores()
        if gpus:
            # A GPU parallelises inside each op, and cuDNN handles narrow layers well: plain
            # convolutions, one tower per GPU (cifar10_multi_gpu_train's pattern: each GPU takes a
            # slice of the batch, the weights are shared).
            devices = tuple(f"/gpu:{i}" for i in range(len(gpus))) if len(gpus) > 1 else ()
            return cls(_gpu_description(gpus), True, cores, len(gpus), mixed_precision, False, xla, devices)
        plural = "s" if cores != 1 else ""
        return cls(f"CPU ({cores} core{plural})", False, cores, towers or auto_towers(cores, batch_size),
                   False, True, xla)

    @classmethod
    def for_training(cls, tc: TrainConfig) -> Device:
        return cls.detect(towers=tc.towers, batch_size=tc.batch_size, mixed_precision=tc.mixed_precision,
                          xla=tc.xla)

    @classmethod
    def for_inference(cls, mixed_precision: bool = False) -> Device:
        """Towers do not change inference's maths: they are chosen for this machine, whatever the
        training machine used, with batches large enough for one tower per core."""
        return cls.detect(batch_size=MIN_IMAGES_PER_TOWER * MAX_CPU_TOWERS, mixed_precision=mixed_precision)

    @classmethod
    def portable(cls) -> Device:
        """For exported models, which must run anywhere: one tower, float32, no blocked first
        convolution (its gather would only slow other runtimes down)."""
        return cls("portable", gpu=False, cores=1, towers=1, float16=False, blocked_conv=False)

    def describe(self) -> str:
        on = f" on {', '.join(self.tower_devices)}" if self.tower_devices else ""
        return self.name + (f" × {self.towers} towers{on}" if self.towers > 1 else "")

    def tower_device(self, tower: int) -> str | None:
        """The device for tower `tower`'s ops (None: let TensorFlow place them)."""
        return self.tower_devices[tower] if self.tower_devices else None

    def session_config(self):
        import tensorflow.compat.v1 as tf

        config = tf.ConfigProto(allow_soft_placement=True)
        config.gpu_options.allow_growth = True  # share the GPU politely with other processes
        if self.xla:
            config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
        if self.towers > 1:
            # The towers run side by side (inter-op) ...
            config.inter_op_parallelism_threads = self.towers
        # ... and each op gets its share of the cores (intra-op): all of `cores` with one tower.
        config.intra_op_parallelism_threads = max(1, self.cores // self.towers)
        return config
