"""`signclf data …`: get, inspect and synthesise datasets. Thin wrappers over signclf.data.

Work modules are imported inside each command so `signclf --help` stays instant (and nothing
here pulls in TensorFlow). Problems are raised as SignclfError and printed as one line.
"""

from __future__ import annotations

from pathlib import Path

import click

from signclf.cli_errors import OneLineErrors
from signclf.cli_options import verbose, verbose_option
from signclf.config import DATA_FORMATS
from signclf.errors import SignclfError
from signclf.progress import bar as progress_bar
from signclf.text import printable

FORMATS = list(DATA_FORMATS)
DOWNLOADS = ["gtsrb", "gtsrb-ijcnn", "udacity"]  # signclf.data.download.CHECKSUMS' keys, without importing it
VALID_FRACTION = 0.1  # of `data synth`'s images per class; its --help states the result


@click.group("data", cls=OneLineErrors)
def data_group():
    """Download, summarise or synthesise traffic-sign datasets."""


@data_group.command("download")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=Path("data"), show_default=True,
              help="Folder to download and unpack into.")
@click.option("--which", type=click.Choice(DOWNLOADS), default="gtsrb", show_default=True,
              help="Which dataset; see above.")
@click.option("--base-url", help="Mirror to download from instead of the official server.")
def download(dest, which, base_url):
    """Download, verify and unpack a dataset; resumes an interrupted download.

    \b
    gtsrb        (default) GTSRB_Final_Training_Images.zip: the full training set
                 published GTSRB results use, 39,209 images of 43 classes in
                 ~1,307 tracks; plus GTSRB_Final_Test_Images.zip (12,630 test
                 images) and GTSRB_Final_Test_GT.zip (their labels).
    gtsrb-ijcnn  GTSRB-Training_fixed.zip instead: the IJCNN 2011 competition's
                 first training release, 26,640 images (32% fewer), checked
                 against its published MD5; plus the same test set.
    udacity      traffic-signs-data.zip: the course's train.p, valid.p, test.p.

    Nobody publishes an MD5 for GTSRB_Final_Training_Images.zip, so it is verified by its zip
    CRCs, the exact counts (39,209 images, 43 class folders, each GT-000NN.csv listing exactly
    the images beside it) and every image decoding. The test archives are checked against their
    published MD5s. The SHA-256 of each archive is printed and kept in DEST/<which>.manifest.json,
    to compare with a colleague's.
    """
    from signclf.data.download import download_dataset

    root = download_dataset(which, dest, base_url=base_url)
    click.echo(f"ready: {root}")
    # From the GTSRB root the readers prefer the full training set; name the IJCNN part explicitly.
    train = root / "Training" if which == "gtsrb-ijcnn" else root
    click.echo(f"use it with --set data.train={train} --set data.test={root}")


@data_group.command("summary")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--train", "train_path", type=click.Path(path_type=Path), help="Training set (any layout).")
@click.option("--valid", "valid_path", type=click.Path(path_type=Path), help="Validation set.")
@click.option("--test", "test_path", type=click.Path(path_type=Path), help="Test set.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for class_histogram.png and sample_grid.png  [default: the first dataset's folder]")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Dataset layout, or auto to detect.")
@click.option("--image-size", type=click.IntRange(8, 512), default=32, show_default=True,
              help="Size the sample grid shows images at.")
@click.option("--class-names", type=click.Path(dir_okay=False), help="ClassId,SignName CSV (default: GTSRB's 43).")
def summary(paths, train_path, valid_path, test_path, out, fmt, image_size, class_names):
    """Counts per split and class, image sizes, a class histogram and a sample grid.

    PATHS are datasets of any layout; each one's split is guessed from its name (test.p → test,
    a GTSRB root → its training part); a folder of train.p/valid.p/test.p shows every split it holds.
    Use --train/--valid/--test to say it explicitly.
    """
    from signclf.data.dataset import read_class_names
    from signclf.data.summary import specs_for_paths, summarize

    specs = specs_for_paths(paths)
    specs += [(split, p) for split, p in (("train", train_path), ("valid", valid_path), ("test", test_path)) if p]
    if not specs:
        raise click.UsageError("give at least one dataset path, or --train/--valid/--test")
    names = read_class_names(class_names) if class_names else None
    report = summarize(specs, out, fmt=fmt, image_size=image_size, class_names=names)
    click.echo(report.text)
    for path in report.files:
        click.echo(f"wrote {printable(str(path))}")


@data_group.command("synth")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for train.p, valid.p, signnames.csv and samples/.")
@click.option("--per-class", type=click.IntRange(min=2), default=100, show_default=True,
              help=f"Images rendered per class. {VALID_FRACTION:.0%} of them, rounded, and at least one go to "
                   f"valid.p (1 of 5 at --per-class 5, {round(100 * VALID_FRACTION)} of 100 at the default).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same images.")
def synth(out, per_class, seed):
    """Render a synthetic GTSRB-like dataset (Udacity pickle layout) for smoke tests and demos.

    Re-running into an existing --out replaces the whole set at once: a run killed midway leaves
    the previous set as it was.
    """
    from signclf.data.synth import NUM_CLASSES, write_synthetic_dataset

    with progress_bar(total=NUM_CLASSES, unit="class", desc="rendering") as bar:
        try:
            result = write_synthetic_dataset(out, per_class=per_class, seed=seed, valid_fraction=VALID_FRACTION,
                                             progress=lambda done, total: bar.update(1))
        except SignclfError:
            raise  # already one line naming the file (e.g. a full disk)
        except OSError as e:
            raise SignclfError(f"{out}: cannot write the dataset ({e.strerror or e}); choose a writable --out")
    click.echo(f"wrote {result['train']:,} training and {result['valid']:,} validation images to {printable(str(out))}")
    click.echo(f"use it with --set data.train={printable(str(out))}")


@data_group.command("preview")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config whose data/augment to show.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="PNG to write  [default: augment-preview.png beside the training data]")
@click.option("--rows", default=8, show_default=True, type=click.IntRange(1, 43), help="Training images (rows).")
@click.option("--variants", default=7, show_default=True, type=click.IntRange(1, 32), help="Augmented draws per image.")
@verbose_option
@click.pass_context
def preview(ctx, config_path, overrides, out, rows, variants):
    """Write a PNG grid of preprocessed training images and their augmentations."""
    from signclf.config import load_config
    from signclf.data.loading import check_data_paths
    from signclf.preview import default_preview_path
    from signclf.tensorflow_import import import_tensorflow

    cfg = load_config(config_path, [*overrides, "augment.enabled=true"])  # a preview of augmentation
    check_data_paths(cfg, splits=("train",))
    out = out or default_preview_path(cfg)
    import_tensorflow(verbose(ctx))
    from signclf.preview import write_preview

    written = printable(str(write_preview(cfg, out, rows, variants)))
    click.echo(f"wrote {written} (first column: prepared; then augmented draws)")
