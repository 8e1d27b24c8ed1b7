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
from signclf.cli_data import data_group
from signclf.cli_errors import OneLineErrors
from signclf.tensorflow_import import import_tensorflow, quiet_tensorflow


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="signclf")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's own log messages.")
@click.pass_context
def main(ctx, verbose):
    """Train, evaluate and use traffic-sign classifiers (GTSRB), TensorFlow-1.x style."""
    ctx.obj = {"verbose": verbose}
    quiet_tensorflow(verbose)


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
    import_tensorflow(ctx.obj["verbose"])
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
    import_tensorflow(ctx.obj["verbose"])
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
    import_tensorflow(ctx.obj["verbose"])
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


main.add_command(data_group)

if __name__ == "__main__":
    main()
