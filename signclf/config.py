"""One config object for a run: YAML file → typed dataclasses, every key documented and checked.

Unknown keys (with a "did you mean"), wrong types and out-of-range values are `ConfigError`s that
name the file and the dotted key, so the CLI prints one line and exits 2. The resolved config is
written into the run directory and is all that evaluate/predict need to rebuild the graph.
No TensorFlow here: `signclf --help` must stay fast.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from signclf.config_yaml import apply_override, parse_override, read_config_yaml, shown, shown_key
from signclf.errors import ConfigError
from signclf.layer_sizes import spatial_size, weight_counts
from signclf.text import printable

# Images per Session.run when evaluating, predicting or validating: large enough to keep every core
# busy, small enough that a batch of 512px images still fits in memory.
INFERENCE_BATCH_SIZE = 1024


@dataclass
class DataConfig:
    train: str = ""  # training set: a Udacity pickle, GTSRB tree, Kaggle root/CSV or folder per class
    valid: str = ""  # validation set; empty = hold out valid_fraction of train (whole tracks when known)
    test: str = ""  # test set, used only by `signclf evaluate --split test`
    format: str = "auto"  # auto | pickle | gtsrb | kaggle | folders
    class_names: str = ""  # ClassId,SignName CSV; empty = the 43 GTSRB names shipped with signclf
    image_size: int = 32  # images are resized to image_size × image_size once, at load
    valid_fraction: float = 0.1  # share of train held out when `valid` is empty
    roi_crop: bool = False  # crop each image to its sign's ROI when the data has ROIs
    oversample: int = 0  # repeat rare classes' training images up to this count per class (0 = off)
    folds: int = 0  # cross-validation: pool train and valid, cut into this many track-disjoint folds (0 = off)
    fold: int = 0  # with folds: which fold validates (0..folds-1); the others train


@dataclass
class PreprocessConfig:
    color: str = "rgb"  # rgb | gray | y (the Y of YUV, as Sermanet & LeCun)
    equalize: str = "none"  # none | hist | clahe | stretch (1st–99th percentile to 0–255) | lcn (local contrast)
    clahe_clip: float = 2.0  # CLAHE contrast limit
    clahe_grid: int = 4  # CLAHE tiles per side
    normalize: bool = True  # per-channel mean/std from the training set, saved with the run
    # One model sees the views a preprocessing committee's members see, for a wider first layer.
    extra: list[str] = field(default_factory=list)  # more gray channels, each equalised another way (hist, clahe…)

    @property
    def picture_channels(self) -> int:
        """Channels of the picture itself: 3 for rgb, 1 for gray and y."""
        return 3 if self.color == "rgb" else 1

    @property
    def channels(self) -> int:
        """Channels of a prepared image: the picture's, then one per extra view."""
        return self.picture_channels + len(self.extra)


@dataclass
class AugmentConfig:
    enabled: bool = False  # training only; evaluation and prediction never augment
    rotation: float = 15.0  # max degrees either way
    shift: float = 0.1  # max translation, fraction of the image side
    scale: float = 0.1  # max zoom in/out, fraction
    shear: float = 0.1  # max shear factor
    perspective: float = 0.0  # max projective distortion (fraction of side per corner)
    brightness: float = 0.2  # max additive change, fraction of full range
    contrast: float = 0.2  # max multiplicative change around the image mean
    saturation: float = 0.2  # max saturation change (RGB only)
    hue: float = 0.0  # max hue rotation, fraction of a turn (RGB only)
    gamma: float = 0.2  # max |log-gamma|
    blur_prob: float = 0.0  # probability of a Gaussian blur
    blur_sigma: float = 1.0  # its sigma in pixels
    noise: float = 0.0  # std of additive Gaussian noise, fraction of full range
    noise_max: float = 0.0  # more Gaussian noise, its std drawn per image in [0, noise_max]: clean to very noisy
    backlight: float = 0.0  # max strength of a radial light falloff: sign darker (or brighter) than its surround
    invert_prob: float = 0.0  # probability of inverting intensities (a backlit sign is dark on a bright sky)
    haze: float = 0.0  # max opacity of a smooth bright veil over the image (fog, a frosted or dirty windscreen)
    stroke: float = 0.0  # max change of stroke weight: dark digits and rims bolder or thinner (0.5: a font weight)
    mirror_prob: float = 0.0  # class-aware flips: a sign becomes its mirror class (e.g. turn left ↔ right)
    erase_prob: float = 0.0  # probability of random erasing: a rectangle of the image becomes noise (occlusion)
    erase_max: float = 0.25  # the erased rectangle's largest area, fraction of the image (smallest: 2%)
    mixup: float = 0.0  # mixup's Beta(a, a) parameter: images and targets blended in pairs (e.g. 0.2; 0 = off)


@dataclass
class ConvStage:
    kernel: int = 5  # square kernel side
    depth: int = 32  # output channels
    stride: int = 1  # convolution stride
    padding: str = "VALID"  # VALID | SAME
    pool: int = 2  # max-pool window (1 = no pooling)
    pool_stride: int = 0  # 0 = same as pool
    dropout: bool = False  # dropout after this stage (keep_prob = model.conv_keep_prob)


@dataclass
class ModelConfig:
    conv: list[ConvStage] = field(default_factory=lambda: [ConvStage(5, 6), ConvStage(5, 16)])  # the conv stages
    fc: list[int] = field(default_factory=lambda: [120, 84])  # hidden fully connected widths
    keep_prob: float = 1.0  # dropout keep probability on the fully connected layers (1 = off)
    conv_keep_prob: float = 1.0  # keep probability for stages with dropout: true
    l2: float = 0.0  # weight of sum(tf.nn.l2_loss(w)) over conv and fc weights
    multiscale: bool = False  # Sermanet & LeCun: feed every stage's (pooled) features to the classifier
    batch_norm: bool = False  # batch normalisation after each conv and fc layer
    stn: bool = False  # spatial transformer: a small net learns an affine warp of the input (signclf.stn)
    input_channels: int = 0  # 0 = from preprocess.color (3 for rgb, 1 for gray/y)


@dataclass
class TrainConfig:
    epochs: int = 10  # passes over the training set
    batch_size: int = 128  # images per training step
    seed: int = 0  # seeds Python, NumPy and TensorFlow; same seed + same data = same weights on CPU
    learning_rate: float = 0.001  # peak step size (Adam: ~0.001; momentum: ~0.1)
    optimizer: str = "adam"  # adam | momentum (SGD with Nesterov momentum)
    momentum: float = 0.9  # momentum's decay of past gradients
    lr_schedule: str = "constant"  # constant | exponential | step | cosine | plateau
    lr_decay: float = 0.5  # factor for exponential (per epoch), step and plateau
    lr_step_epochs: int = 10  # step schedule: multiply by lr_decay every this many epochs
    lr_min: float = 0.0  # floor for cosine and plateau
    lr_plateau_patience: int = 2  # plateau: epochs without a better valid accuracy before decaying
    warmup_epochs: float = 0.0  # linear warm-up from 0, in (fractional) epochs
    label_smoothing: float = 0.0  # share of the target spread evenly over all classes
    early_stopping: int = 0  # stop after this many epochs without a better valid accuracy (0 = off)
    final: bool = False  # train on every labelled image (data.train + data.valid), no validation: see signclf cv
    ema_decay: float = 0.0  # validate, keep and export a moving average of the weights (e.g. 0.999; 0 = off)
    finetune_from: str = ""  # run directory whose best weights initialise this run
    teacher: list[str] = field(default_factory=list)  # runs or cv folders whose softmax joins the targets (distilling)
    teacher_weight: float = 0.5  # share of each training target taken from the teacher
    teacher_temperature: float = 2.0  # softens the teacher: its probabilities to the power 1/T, renormalised
    eval_batch_size: int = INFERENCE_BATCH_SIZE  # images per step when validating
    xla: bool = False  # XLA JIT compilation on a GPU (TF ignores it on CPU without TF_XLA_FLAGS)
    mixed_precision: bool = False  # float16 compute on a GPU; ignored on CPU
    towers: int = 0  # CPU only: split each batch over this many weight-sharing towers run in parallel (0 = auto)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = ""  # run name; default: the config file's stem

    @property
    def input_channels(self) -> int:
        return self.model.input_channels or self.preprocess.channels


# ---- checks on values: (dotted key, predicate, what it must be) ----------------------------------
# The dataset layouts signclf reads (signclf.data.readers registers one reader per name).
DATA_FORMATS = ("auto", "pickle", "gtsrb", "kaggle", "folders")
_CHOICES = {
    "data.format": DATA_FORMATS,
    "preprocess.color": ("rgb", "gray", "y"),
    "preprocess.equalize": ("none", "hist", "clahe", "stretch", "lcn"),
    "train.optimizer": ("adam", "momentum"),
    "train.lr_schedule": ("constant", "exponential", "step", "cosine", "plateau"),
}
EXTRA_VIEWS = ("hist", "clahe", "stretch", "lcn")  # preprocess.extra: equalisations of the gray picture
MAX_SEED = 2**31 - 1  # TensorFlow's graph-level seed must fit an int32 once combined with op seeds
_RANGES = [
    ("data.image_size", lambda v: 8 <= v <= 512, "between 8 and 512"),
    ("data.valid_fraction", lambda v: 0 < v < 1, "between 0 and 1 (exclusive)"),
    ("data.oversample", lambda v: v >= 0, ">= 0"),
    ("data.folds", lambda v: v == 0 or 2 <= v <= 20, "0 (off) or between 2 and 20"),
    ("preprocess.clahe_clip", lambda v: v > 0, "> 0"),
    ("preprocess.clahe_grid", lambda v: 1 <= v <= 64, "between 1 and 64"),
    ("model.keep_prob", lambda v: 0 < v <= 1, "in (0, 1]"),
    ("model.conv_keep_prob", lambda v: 0 < v <= 1, "in (0, 1]"),
    ("model.l2", lambda v: v >= 0, ">= 0"),
    ("model.input_channels", lambda v: v in (0, 1, 3), "0 (auto), 1 or 3"),
    ("train.epochs", lambda v: v >= 1, ">= 1"),
    ("train.batch_size", lambda v: v >= 1, ">= 1"),
    ("train.seed", lambda v: 0 <= v <= MAX_SEED, f"between 0 and {MAX_SEED}"),
    ("train.learning_rate", lambda v: v > 0, "> 0"),
    ("train.momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("train.lr_decay", lambda v: 0 < v <= 1, "in (0, 1]"),
    ("train.lr_step_epochs", lambda v: v >= 1, ">= 1"),
    ("train.lr_min", lambda v: v >= 0, ">= 0"),
    ("train.lr_plateau_patience", lambda v: v >= 1, ">= 1"),
    ("train.warmup_epochs", lambda v: v >= 0, ">= 0"),
    ("train.label_smoothing", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("train.early_stopping", lambda v: v >= 0, ">= 0"),
    ("train.ema_decay", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("train.teacher_weight", lambda v: 0 <= v <= 1, "in [0, 1]"),
    ("train.teacher_temperature", lambda v: 0 < v <= 100, "in (0, 100]"),
    ("train.eval_batch_size", lambda v: v >= 1, ">= 1"),
    ("train.towers", lambda v: 0 <= v <= 64, "between 0 (auto) and 64"),
]
_AUGMENT_NONNEGATIVE = [f.name for f in dataclasses.fields(AugmentConfig) if f.type in ("float", float)]
_STAGE_RANGES = [
    ("kernel", lambda v: 1 <= v <= 15, "between 1 and 15"),
    ("depth", lambda v: 1 <= v <= 4096, "between 1 and 4096"),
    ("stride", lambda v: 1 <= v <= 8, "between 1 and 8"),
    ("pool", lambda v: 1 <= v <= 8, "between 1 and 8"),
    ("pool_stride", lambda v: 0 <= v <= 8, "between 0 and 8"),
]
# TensorFlow cannot hold a tensor over 2 GB in a graph (a protobuf limit), and Adam's zero-filled
# slot for every weight is such a tensor: a layer that large fails at the first step, after loading.
MAX_VARIABLE_BYTES = 2**31 - 2**20  # leaves room for the protobuf's own fields


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value, tp, key: str, where: str):
    """Check/convert one YAML value to the annotated type; ints are accepted where floats are."""
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {key} must be a list, got {shown(value)}")
        return [_convert(v, item_tp, f"{key}.{i}", where) for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} must be a mapping of {_type_name(tp)} keys, got {shown(value)}")
        return _build(tp, value, key, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif tp is str:
        if value is None:
            return ""
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"{where}: {key} must be {_type_name(tp)}, got {shown(value)} ({type(value).__name__})")


# Keys that runs saved by earlier versions hold and that no longer mean anything: accepted and
# ignored, so every saved run stays loadable.
_RETIRED_KEYS = {"train.deterministic"}


def _build(cls, raw: dict, prefix: str, where: str):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        dotted = shown_key(f"{prefix}.{key}" if prefix else str(key))
        if dotted in _RETIRED_KEYS:
            continue
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean '{(prefix + '.' if prefix else '') + close[0]}'?" if close else \
                f"; known keys: {', '.join(names)}"
            raise ConfigError(f"{where}: unknown key '{dotted}'{hint}")
        kwargs[key] = _convert(value, hints[key], dotted, where)
    return cls(**kwargs)


def _get(cfg: Config, dotted: str):
    obj = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _validate(cfg: Config, where: str) -> None:
    for key, choices in _CHOICES.items():
        if _get(cfg, key) not in choices:
            raise ConfigError(f"{where}: {key} must be one of {', '.join(choices)}, got {shown(_get(cfg, key))}")
    for key, ok, what in _RANGES:
        if not ok(_get(cfg, key)):
            raise ConfigError(f"{where}: {key} must be {what}, got {shown(_get(cfg, key))}")
    for name in _AUGMENT_NONNEGATIVE:
        if getattr(cfg.augment, name) < 0:
            raise ConfigError(f"{where}: augment.{name} must be >= 0, got {shown(getattr(cfg.augment, name))}")
    for name in ("blur_prob", "mirror_prob", "invert_prob", "erase_prob"):
        if getattr(cfg.augment, name) > 1:
            raise ConfigError(f"{where}: augment.{name} is a probability and must be <= 1")
    if cfg.augment.stroke > 1:
        raise ConfigError(f"{where}: augment.stroke is a blend towards a one-pixel erosion or dilation and must be "
                          f"<= 1, got {shown(cfg.augment.stroke)}")
    if cfg.augment.haze >= 1:
        raise ConfigError(f"{where}: augment.haze is an opacity and must be < 1 (1 would hide the sign)")
    if not 0.02 <= cfg.augment.erase_max < 1:
        raise ConfigError(f"{where}: augment.erase_max is the erased share of the image and must be in "
                          f"[0.02, 1), got {shown(cfg.augment.erase_max)}")
    if cfg.data.folds and not 0 <= cfg.data.fold < cfg.data.folds:
        raise ConfigError(f"{where}: data.fold must be between 0 and {cfg.data.folds - 1} "
                          f"(data.folds={cfg.data.folds}), got {cfg.data.fold}")
    if cfg.train.final:
        # A final model has nothing left to validate on: whatever needs a validation score cannot run.
        clash = ("data.folds" if cfg.data.folds else "train.early_stopping" if cfg.train.early_stopping
                 else "train.lr_schedule=plateau" if cfg.train.lr_schedule == "plateau" else "")
        if clash:
            raise ConfigError(f"{where}: train.final trains without a validation set, which {clash} needs; "
                              f"drop one of them")
    if cfg.train.teacher and cfg.augment.enabled and cfg.augment.mirror_prob > 0:
        raise ConfigError(f"{where}: train.teacher scores the images as they are, so it cannot follow "
                          f"augment.mirror_prob's relabelled flips; set augment.mirror_prob=0 or drop the teacher")
    if not cfg.model.conv:
        raise ConfigError(f"{where}: model.conv must list at least one conv stage")
    for i, stage in enumerate(cfg.model.conv):
        for key, ok, what in _STAGE_RANGES:
            if not ok(getattr(stage, key)):
                raise ConfigError(f"{where}: model.conv.{i}.{key} must be {what}, got {shown(getattr(stage, key))}")
        if stage.padding not in ("VALID", "SAME"):
            raise ConfigError(f"{where}: model.conv.{i}.padding must be VALID or SAME, got {shown(stage.padding)}")
    for i, width in enumerate(cfg.model.fc):
        if not 1 <= width <= 65536:
            raise ConfigError(f"{where}: model.fc.{i} must be between 1 and 65536, got {shown(width)}")
    for i, view in enumerate(cfg.preprocess.extra):
        if view not in EXTRA_VIEWS:
            raise ConfigError(f"{where}: preprocess.extra.{i} must be one of {', '.join(EXTRA_VIEWS)}, "
                              f"got {shown(view)}")
    if cfg.model.input_channels and cfg.model.input_channels != cfg.preprocess.channels:
        raise ConfigError(f"{where}: model.input_channels={cfg.model.input_channels} contradicts "
                          f"preprocess.color={shown(cfg.preprocess.color)}"
                          + (f" with {len(cfg.preprocess.extra)} extra view(s)" if cfg.preprocess.extra else "")
                          + f" ({cfg.preprocess.channels} channels); set it to 0 (auto)")
    if spatial_size(cfg) < 1:
        raise ConfigError(f"{where}: model.conv stages shrink a {cfg.data.image_size}px image to nothing; "
                          f"use padding SAME, smaller kernels or less pooling")
    layer, count = max(weight_counts(cfg, num_classes=2).items(), key=lambda item: item[1])
    if count * 4 > MAX_VARIABLE_BYTES:
        raise ConfigError(f"{where}: the {layer} weights would be {count:,} floats ({count * 4 / 2**30:.1f} GiB), "
                          f"over TensorFlow's 2 GB limit for one tensor in a graph; use narrower model.fc "
                          f"layers, fewer model.conv depths or more pooling")


def config_from_dict(raw: dict, where: str = "<config>") -> Config:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of sections (data, model, train, ...)")
    cfg = _build(Config, raw, "", where)
    conv = [dataclasses.replace(s, padding=s.padding.upper()) for s in cfg.model.conv]
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, conv=conv))
    _validate(cfg, where)
    return cfg


def load_config(path=None, overrides=()) -> Config:
    """Load a YAML config (or the defaults when path is None), apply `key=value` overrides, check it.

    Overrides apply on top of the defaults too: `model.conv.0.depth=32` works without a config file.
    """
    raw = read_config_yaml(path) if path else {}
    where = printable(str(path)) if path else "<defaults>"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of sections (data, model, train, ...)")
    defaults = config_to_dict(Config())
    for text in overrides:
        apply_override(raw, *parse_override(text), defaults=defaults)
    if overrides:
        where += " (with --set)"
    cfg = config_from_dict(raw, where)
    if not cfg.name and path:
        cfg = dataclasses.replace(cfg, name=Path(path).stem)
    return cfg


_PATH_KEYS = (("data", "train"), ("data", "valid"), ("data", "test"), ("data", "class_names"),
              ("train", "finetune_from"), ("train", "teacher"))


def resolve_paths(cfg: Config, base_dir) -> Config:
    """A copy of `cfg` whose data paths, train.finetune_from and train.teacher are absolute, relative ones taken
    against `base_dir` (where `train` ran): the run's saved config then works from any directory."""
    sections = {}
    for section, key in _PATH_KEYS:
        value = getattr(getattr(cfg, section), key)
        absolute = [str((Path(base_dir) / Path(v).expanduser()).absolute()) for v in
                    (value if isinstance(value, list) else [value]) if v]
        if absolute:
            sections.setdefault(section, {})[key] = absolute if isinstance(value, list) else absolute[0]
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **changes)
                                       for section, changes in sections.items()})


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def config_to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


# Regularisation strengths: changing them on resume keeps every variable's name and shape.
_NOT_ARCHITECTURE = {"model.keep_prob", "model.conv_keep_prob", "model.l2"}


def architecture_diff(a: Config, b: Config) -> list[str]:
    """Dotted keys whose differences change the graph or its input (resume refuses these)."""
    da, db = config_to_dict(a), config_to_dict(b)
    keys = [f"{section}.{k}" for section in ("model", "preprocess") for k in da[section]
            if da[section][k] != db[section][k]]
    if da["data"]["image_size"] != db["data"]["image_size"]:
        keys.append("data.image_size")
    return [k for k in keys if k not in _NOT_ARCHITECTURE]


def documented_keys() -> list[tuple[str, str, str]]:
    """(dotted key, default, comment) for every key, read from this file's source for the README."""
    import inspect
    import re

    rows = []
    for section, cls in (("data", DataConfig), ("preprocess", PreprocessConfig), ("augment", AugmentConfig),
                         ("model", ModelConfig), ("model.conv[]", ConvStage), ("train", TrainConfig)):
        for line in inspect.getsource(cls).splitlines():
            m = re.match(r"\s+(\w+): [^=]+= (.+?)(?:\s+# (.*))?$", line)
            if m:
                default = m.group(2)
                if default.isidentifier() and isinstance(globals().get(default), int):  # a named constant
                    default = str(globals()[default])
                rows.append((f"{section}.{m.group(1)}", default, m.group(3) or ""))
    return rows
