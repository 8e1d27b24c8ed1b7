"""The `signclf` command: thin click wrappers; the work happens in train/evaluate/predict modules.

TensorFlow is imported only inside the commands that need it, so `signclf --help` is instant.
A `SignclfError` anywhere becomes one line on stderr and its exit code (cli_errors), never a traceback.
"""

from __future__ import annotations

import json
import os
import sys

import click

from signclf import __version__
from signclf.cli_errors import OneLineErrors


def _quiet_tensorflow(verbose: bool) -> None:
    """TensorFlow's start-up chatter hides our output; keep it only with --verbose."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    import warnings

    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def _import_tensorflow(verbose: bool) -> None:
    """Import TensorFlow now, with stderr muted unless --verbose.

    TF 2.x's C++ core logs (oneDNN, CUDA probing) before TF_CPP_MIN_LOG_LEVEL is read, so the only
    way to keep the user's terminal clean is to point file descriptor 2 elsewhere for the import.
    """
    if verbose or "tensorflow" in sys.modules:
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import absl.logging
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            absl.logging.set_verbosity(absl.logging.ERROR)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="signclf")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's own log messages.")
@click.pass_context
def main(ctx, verbose):
    """Train, evaluate and use traffic-sign classifiers (GTSRB), TensorFlow-1.x style."""
    ctx.obj = {"verbose": verbose}
    _quiet_tensorflow(verbose)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config (see configs/); default: LeNet-5 defaults.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set train.epochs=3 (repeatable).")
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="Where to write the run (default runs/<time>-<name>).")
@click.option("--resume", type=click.Path(file_okay=False),
              help="Continue an interrupted run from its last checkpoint.")
@click.option("--force", is_flag=True, help="Overwrite --run-dir if it already holds a run.")
@click.option("--no-progress", is_flag=True, help="No progress bar (one line per epoch only).")
@click.pass_context
def train(ctx, config_path, overrides, run_dir, resume, force, no_progress):
    """Train a model; prints one line per epoch and saves everything in the run directory."""
    from signclf.config import load_config

    if resume and not config_path:
        config_path = os.path.join(resume, "config.yaml")
    cfg = load_config(config_path, overrides)  # no --config: the documented defaults (LeNet-5)
    if resume and run_dir:
        raise click.UsageError("--run-dir and --resume are exclusive: the resumed run stays where it is")
    _import_tensorflow(ctx.obj["verbose"])
    from signclf.train import train as run_training

    run_training(cfg, run_dir=run_dir, resume=resume, force=force, progress=not no_progress)


@main.command()
@click.option("--run", "runs", multiple=True, type=click.Path(),
              help="Run directory (default runs/latest); repeat to evaluate a committee.")
@click.option("--split", type=click.Choice(["valid", "test", "train"]), default="valid", show_default=True,
              help="Which data.* path of the run's config to evaluate on.")
@click.option("--data", "data_path", type=click.Path(), help="Evaluate on this dataset instead (any layout).")
@click.option("--batch-size", default=1024, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable results.")
@click.pass_context
def evaluate(ctx, runs, split, data_path, batch_size, as_json):
    """Accuracy, top-5, per-class P/R/F1 and a confusion matrix (CSV + PNG) for a trained run."""
    from signclf.rundir import resolve_run

    run_dirs = [resolve_run(r) for r in runs] if runs else [resolve_run()]
    _import_tensorflow(ctx.obj["verbose"])
    from signclf.evaluate import evaluate as run_evaluation
    from signclf.evaluate import format_report

    results = run_evaluation(run_dirs, split=split, data_path=data_path, batch_size=batch_size)
    if as_json:
        click.echo(json.dumps({k: v for k, v in results.items() if k != "confusion_matrix"}, indent=2))
    else:
        click.echo(format_report(results))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--run", "runs", multiple=True, type=click.Path(),
              help="Run directory (default runs/latest); repeat to average a committee.")
@click.option("--top-k", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {path, top_k: [{class_id, name, prob}]}.")
@click.option("--jsonl", is_flag=True, help="Stream one JSON object per line (for very many files).")
@click.option("--batch-size", default=1024, show_default=True, type=click.IntRange(1))
@click.pass_context
def predict(ctx, paths, runs, top_k, as_json, jsonl, batch_size):
    """Name the traffic sign in image files or folders (PNG, JPEG, PPM, BMP, any size)."""
    from signclf.rundir import resolve_run

    run_dirs = [resolve_run(r) for r in runs] if runs else [resolve_run()]
    _import_tensorflow(ctx.obj["verbose"])
    from tqdm import tqdm

    from signclf.inference import Committee
    from signclf.predict import format_table_row, predict_files, to_json_line

    failed, seen, results = 0, 0, []
    bars = []

    def progress(done, total):  # a bar only for large inputs, and only on a terminal
        if not bars:
            bars.append(tqdm(total=total, unit="img", disable=total < 5000 or not sys.stderr.isatty(), leave=False))
        bars[0].update(done)

    with Committee(run_dirs) as committee:
        for pred in predict_files(committee, paths, top_k, batch_size, on_progress=progress):
            failed, seen = failed + (pred.error is not None), seen + 1
            if jsonl:
                click.echo(to_json_line(pred))
            elif as_json:
                results.append(pred.to_json())
            elif pred.error:
                click.echo(format_table_row(pred), err=True)
            else:
                click.echo(format_table_row(pred))
    for bar in bars:
        bar.close()
    if as_json:
        click.echo(json.dumps(results, indent=2))
    if failed:
        click.echo(f"error: {failed} of {seen} input(s) could not be predicted (reasons above)", err=True)
        sys.exit(1)


@click.command("preview")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config whose data/augment to show.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key (repeatable).")
@click.option("--out", default="augment-preview.png", show_default=True, type=click.Path(dir_okay=False))
@click.option("--rows", default=8, show_default=True, type=click.IntRange(1, 43), help="Training images (rows).")
@click.option("--variants", default=7, show_default=True, type=click.IntRange(1, 32), help="Augmented draws per image.")
@click.pass_context
def preview(ctx, config_path, overrides, out, rows, variants):
    """Write a PNG grid of preprocessed training images and their augmentations."""
    from signclf.config import load_config

    cfg = load_config(config_path, overrides)
    cfg.augment.enabled = True
    _import_tensorflow(ctx.find_root().obj["verbose"])
    from signclf.preview import write_preview

    click.echo(f"wrote {write_preview(cfg, out, rows, variants)} (first column: preprocessed; then augmented)")


from signclf.cli_data import data_group  # noqa: E402  (after main: the data group is its own module)

data_group.add_command(preview)
main.add_command(data_group)

if __name__ == "__main__":
    main()
