"""The `signclf` command: thin click wrappers; the work happens in train/evaluate/predict modules.

TensorFlow is imported only inside the commands that need it, and only after their inputs are
checked, so `signclf --help` is instant and a typo costs no TensorFlow start-up. A `SignclfError`
anywhere becomes one line on stderr and its exit code (cli_errors), never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from signclf import __version__
from signclf.cli_data import data_group
from signclf.cli_errors import OneLineErrors, stop_on_signals
from signclf.cli_evaluate import evaluate_command
from signclf.cli_export import export_command, model_option
from signclf.cli_options import (
    batch_size_option,
    no_progress_option,
    show_progress,
    tta_option,
    verbose,
    verbose_option,
)
from signclf.cli_report import report_command, runs_command
from signclf.cli_sweep import sweep_command
from signclf.errors import ConfigError, SignclfError
from signclf.progress import bar as progress_bar
from signclf.tensorflow_import import import_tensorflow


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="signclf")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's own log messages.")
@click.pass_context
def main(ctx, verbose):
    """Train, evaluate and use traffic-sign classifiers (GTSRB), TensorFlow-1.x style."""
    ctx.obj = {"verbose": verbose}


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config (see configs/); default: LeNet-5 defaults.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set train.epochs=3 (repeatable).")
@click.option("--run", "run_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Folder for the new run (default runs/<time>-<name>).")
@click.option("--run-dir", "run_dir_alias", type=click.Path(file_okay=False), hidden=True)
@click.option("--resume", type=click.Path(file_okay=False), metavar="RUN",
              help="Continue an interrupted run from its last checkpoint.")
@click.option("--force", is_flag=True,
              help="Replace the run in --run DIR if that folder holds a signclf run and nothing else.")
@no_progress_option
@verbose_option
@click.pass_context
def train(ctx, config_path, overrides, run_dir, run_dir_alias, resume, force, no_progress):
    """Train a model; prints one line per epoch and saves everything in the run directory."""
    from signclf.config import load_config
    from signclf.data.loading import check_data_paths

    if run_dir and run_dir_alias:
        raise click.UsageError("--run and --run-dir name the same thing; give one")
    run_dir = run_dir or run_dir_alias
    if resume and run_dir:
        raise click.UsageError("--run and --resume are exclusive: a resumed run stays where it is")
    if resume:
        from signclf.rundir import resolve_run

        resume = resolve_run(resume)  # before TensorFlow: a folder that is not a run is one line at once
    if resume and not config_path:
        config_path = os.path.join(resume, "config.yaml")
    cfg = load_config(config_path, overrides)  # no --config: the documented defaults (LeNet-5)
    check_data_paths(cfg)
    import_tensorflow(verbose(ctx))
    from signclf.train import train as run_training

    run_training(cfg, run_dir=run_dir, resume=resume, force=force, progress=show_progress(no_progress))


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config (see configs/); default: LeNet-5 defaults.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set train.epochs=3 (repeatable).")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20),
              help="Track-disjoint folds over data.train and data.valid pooled.")
@click.option("--fold", "only", multiple=True, type=click.IntRange(0), metavar="I",
              help="Run only fold I (repeatable; default: every fold not done yet).")
@click.option("--out", type=click.Path(file_okay=False), metavar="DIR",
              help="Folder for the folds' runs and cv.json (default runs/cv-<name>-<folds>).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@no_progress_option
@verbose_option
@click.pass_context
def cv(ctx, config_path, overrides, folds, only, out, as_json, no_progress):
    """Cross-validate a config: one run per fold, whole physical signs per fold; mean ± sd accuracy."""
    from signclf.config import load_config
    from signclf.data.loading import check_data_paths

    cfg = load_config(config_path, overrides)
    if cfg.train.final:
        raise ConfigError("train.final trains without validation, so it cannot be cross-validated; "
                          "cross-validate without it, then train the final model")
    if any(i >= folds for i in only):
        raise click.UsageError(f"--fold must be between 0 and {folds - 1} with --folds {folds}")
    check_data_paths(cfg)
    out = Path(out or Path("runs") / f"cv-{cfg.name or 'run'}-{folds}")
    import_tensorflow(verbose(ctx))
    from signclf.crossval import format_summary, run_folds, summarize

    log = (lambda *a: None) if as_json else print
    run_folds(cfg, out, folds, only=only, log=log, progress=show_progress(no_progress))
    result = summarize(out, folds)
    click.echo(json.dumps(result, indent=2) if as_json else format_summary(result, out, config_path, overrides))


@main.command("cv-score")
@click.argument("cv_dirs", nargs=-1, required=True, type=click.Path(file_okay=False), metavar="CV_DIR...")
@tta_option
@click.option("--json", "as_json", is_flag=True, help="Print the per-fold and mean accuracies as JSON.")
@verbose_option
@click.pass_context
def cv_score(ctx, cv_dirs, tta, as_json):
    """Score finished cross-validations on their own folds: several CV_DIRs form a committee."""
    import_tensorflow(verbose(ctx))
    from signclf.crossval import score

    with stop_on_signals("cv-score"):
        result = score([Path(d) for d in cv_dirs], tta=tta, log=(lambda *a: None) if as_json else print)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif "accuracy" in result:
        what = "committee of " + " + ".join(cv_dirs) if len(cv_dirs) > 1 else cv_dirs[0]
        views = f", {tta} views per image" if tta > 1 else ""
        click.echo(f"{what}{views}: {result['accuracy']['mean']:.4f} ± {result['accuracy']['sd']:.4f} over "
                   f"{len(result['per_fold'])} of {result['folds']} folds (last-epoch weights)")
    else:
        raise SignclfError(f"{cv_dirs[0]}: no fold is trained to the end yet; finish them with signclf cv")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--run", "runs", multiple=True, type=click.Path(), metavar="RUN",
              help="Run directory (default runs/latest); repeat to average a committee.")
@click.option("--top-k", default=3, show_default=True, type=click.IntRange(1, 100), help="Classes shown per image.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {path, top_k: [{class_id, name, prob}]}.")
@click.option("--jsonl", is_flag=True, help="Stream one JSON object per line (for very many files).")
@model_option
@batch_size_option
@tta_option
@no_progress_option
@verbose_option
@click.pass_context
def predict(ctx, paths, runs, top_k, as_json, jsonl, models, batch_size, tta, no_progress):
    """Name the traffic sign in image files or folders (PNG, JPEG, PPM, BMP, any size)."""
    if as_json and jsonl:
        raise click.UsageError("--json and --jsonl are exclusive: pick one output format")
    if models and runs:
        raise click.UsageError("--model and --run are exclusive: predict with bundles or with runs")
    from signclf.tta import with_tta

    with stop_on_signals("predict"):
        if models:
            from signclf.runtime import open_models

            def open_committee():
                return with_tta(open_models(models), tta)
        else:
            from signclf.rundir import resolve_run

            run_dirs = [resolve_run(r) for r in runs] if runs else [resolve_run()]
            import_tensorflow(verbose(ctx))

            def open_committee():
                from signclf.inference import Committee

                return with_tta(Committee(run_dirs), tta)
        failed, seen = _predict(paths, open_committee, top_k, batch_size, as_json, jsonl, show_progress(no_progress))
    if failed:
        where = "in the \"error\" field of each failed result" if as_json or jsonl else "above"
        click.echo(f"error: {failed:,} of {seen:,} input(s) could not be predicted (reasons {where})", err=True)
        sys.exit(1)


def _predict(paths, open_committee, top_k, batch_size, as_json, jsonl, progress) -> tuple[int, int]:
    """Print each prediction as it comes (table, JSON lines or one JSON list); (failed, seen) counts."""
    from signclf.data.images import list_image_files
    from signclf.predict import TableLayout, format_table_row, predict_files, to_json_line
    from signclf.text import printable

    failed, seen, results, bars = 0, 0, [], []

    def on_progress(done, total):  # a bar only for large inputs
        if not bars:
            bars.append(progress_bar(total=total, unit="img", show=total >= 5000 and progress))
        bars[0].update(done)

    try:
        with open_committee() as committee:
            for run in getattr(committee, "runs", []):  # stderr: stdout may be JSON
                if run.checkpoint.note:
                    click.echo(f"note: {run.checkpoint.note}", err=True)
            listed = list_image_files(paths)
            if not (jsonl or as_json):
                longest = max((len(printable(str(f))) for f in listed[0]), default=0)
                layout = TableLayout.for_classes(committee.class_names, longest_path=longest)
            for pred in predict_files(committee, paths, top_k, batch_size, on_progress=on_progress, listed=listed):
                failed, seen = failed + (pred.error is not None), seen + 1
                if jsonl:
                    click.echo(to_json_line(pred))
                elif as_json:
                    results.append(pred.to_json())
                else:
                    click.echo(format_table_row(pred, layout), err=pred.error is not None)
    finally:
        for bar in bars:
            bar.close()
    if as_json:
        click.echo(json.dumps(results, indent=2))
    return failed, seen


main.add_command(data_group)
main.add_command(export_command)
main.add_command(evaluate_command)
main.add_command(report_command)
main.add_command(runs_command)
main.add_command(sweep_command)

if __name__ == "__main__":
    main()
