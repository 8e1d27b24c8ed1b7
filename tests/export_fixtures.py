"""A tiny trained run and its exported bundle, made once per test module (training and exporting
take seconds, so the export tests share them)."""

from __future__ import annotations

from pathlib import Path

from conftest import TINY_CLASSES, make_dataset, write_pickle


def write_tiny_data(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    write_pickle(d / "train.p", *make_dataset(24, seed=1))
    write_pickle(d / "valid.p", *make_dataset(8, seed=2))
    (d / "signnames.csv").write_text("ClassId,SignName\n" + "".join(f"{i},{n}\n" for i, n in enumerate(TINY_CLASSES)))
    return d


def train_tiny_run(data: Path, run_dir: Path, **extra) -> Path:
    """One epoch of the small test model (the tiny classes are learnt in that)."""
    from conftest import tiny_overrides
    from signclf.config import load_config
    from signclf.train import train

    cfg = load_config(None, tiny_overrides(data, **{"train.epochs": 1, **extra}))
    cfg.name = run_dir.name
    return train(cfg, run_dir=run_dir, log=lambda *a: None, progress=False)
