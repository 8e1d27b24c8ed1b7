"""`signclf evaluate`: accuracy, per-class scores and a confusion matrix, or (--corruptions)
accuracy under noise, blur, weather and digital corruptions; --tta averages fixed views.

Inputs are checked before TensorFlow loads, as in every command.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from signclf.cli_errors import stop_on_signals
from signclf.cli_export import model_option
from signclf.cli_options import (
    batch_size_option,
    no_progress_option,
    show_progress,
    tta_option,
    verbose,
    verbose_option,
)
from signclf.errors import ConfigError
from signclf.tensorflow_import import import_tensorflow


def check_evaluation_data(run_dirs, split: str) -> None:
    """The run's data.<split> is set and exists (checked before TensorFlow loads)."""
    from signclf.config import load_config
    from signclf.data.loading import split_source
    from signclf.rundir import RunPaths

    run = run_dirs[0]
    path = split_source(load_config(RunPaths(run).config), split)
    if not path:
        raise ConfigError(f"{run}: its config has no data.{split}; evaluate a dataset with --data PATH")
    if not Path(path).exists():
        raise ConfigError(f"{path}: no such file or directory (data.{split} of {run}); "
                          f"if the data moved, pass --data PATH")


def _severities(ctx, param, values) -> list[int]:
    if not values:
        return []
    from signclf.robustness import parse_severities

    try:
        return parse_severities(values)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _corruption_names(ctx, param, values) -> list[str]:
    if not values:
        return []
    from signclf.corruptions import CORRUPTIONS

    unknown = [v for v in values if v not in CORRUPTIONS]
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r} is not a corruption; valid: {', '.join(CORRUPTIONS)}")
    return list(dict.fromkeys(values))


@click.command("evaluate")
@click.option("--run", "runs", multiple=True, type=click.Path(), metavar="RUN",
              help="Run directory (default runs/latest); repeat to evaluate a committee.")
@click.option("--split", type=click.Choice(["valid", "test", "train"]), default="valid", show_default=True,
              help="Which data.* path of the run's config to evaluate on.")
@click.option("--data", "data_path", type=click.Path(exists=True),
              help="Evaluate on this dataset instead (any layout).")
@model_option
@batch_size_option
@tta_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable results.")
@click.option("--corruptions", is_flag=True,
              help="Score on corrupted copies instead (15 CIFAR-10-C corruptions × 5 severities); "
                   "writes robustness.json.")
@click.option("--severity", "severities", multiple=True, metavar="S", callback=_severities,
              help="Only these severities, e.g. 3, 1-3 or 1,3,5 (repeatable; default 1-5; implies --corruptions).")
@click.option("--corruption", "corruption_names", multiple=True, metavar="NAME", callback=_corruption_names,
              help="Only this corruption, e.g. fog (repeatable; default all 15; implies --corruptions).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="With --corruptions: base seed of the corrupted copies (the same for every model).")
@no_progress_option
@verbose_option
@click.pass_context
def evaluate_command(ctx, runs, split, data_path, models, batch_size, tta, as_json, corruptions, severities,
                     corruption_names, seed, no_progress):
    """Accuracy, top-5, per-class P/R/F1 and a confusion matrix (CSV + PNG) for a trained run;
    with --corruptions, its accuracy under noise, blur, weather and digital corruptions."""
    from signclf.evaluate import format_report

    if models and runs:
        raise click.UsageError("--model and --run are exclusive: evaluate bundles or runs")
    progress = show_progress(no_progress)  # also the decoding bar of a folder dataset
    to_stderr = lambda line: click.echo(line, err=True)  # noqa: E731  (stdout: the report or JSON only)
    with stop_on_signals("evaluate"):
        if corruptions or severities or corruption_names:
            if tta > 1:
                raise click.UsageError("--tta and --corruptions are exclusive: score views or corruptions")
            options = dict(split=split, data_path=data_path, severities=severities, seed=seed,
                           names=corruption_names, batch_size=batch_size, log=to_stderr, progress=progress)
            return _evaluate_corruptions(ctx, runs, models, as_json, options)
        if models:
            from signclf.evaluate import evaluate_bundle

            _check_bundles(models, None if data_path else split)
            results = evaluate_bundle(models, split=split, data_path=data_path, batch_size=batch_size, log=to_stderr,
                                      tta=tta)
        else:
            results = _evaluate_runs(ctx, runs, split, data_path, batch_size, to_stderr, tta)
        if as_json:
            click.echo(json.dumps({k: v for k, v in results.items() if k != "confusion_matrix"}, indent=2))
        else:
            click.echo(format_report(results))


def _check_bundles(models, split) -> None:
    """Before any work: every --model is a bundle, and (without --data) the split is there to evaluate."""
    from signclf.bundle import read_bundle
    from signclf.runtime import bundle_root

    roots = [bundle_root(m) for m in models]
    for root in roots:
        read_bundle(root)  # not a bundle: say so before anything else
    if split is not None:
        check_evaluation_data(roots, split)  # a bundle keeps its run's config.yaml


def _evaluate_corruptions(ctx, runs, models, as_json, options) -> None:
    """`evaluate --corruptions`: the table (or JSON) on stdout, where it was written and how long it took."""
    import time

    from signclf.robustness import format_table, measure_bundles, measure_runs

    started = time.perf_counter()
    if models:
        _check_bundles(models, None if options["data_path"] else options["split"])
        results, path = measure_bundles(models, **options)
    else:
        from signclf.rundir import resolve_run

        run_dirs = [resolve_run(r) for r in runs] if runs else [resolve_run()]
        if options["data_path"] is None:
            check_evaluation_data(run_dirs, options["split"])
        import_tensorflow(verbose(ctx))
        results, path = measure_runs(run_dirs, **options)
    click.echo(json.dumps(results, indent=2) if as_json else format_table(results))
    seconds = f"{time.perf_counter() - started:.0f} s"
    click.echo(f"wrote {path} in {seconds}" if path else f"scored in {seconds}", err=as_json)


def _evaluate_runs(ctx, runs, split, data_path, batch_size, log, tta) -> dict:
    from signclf.rundir import resolve_run

    run_dirs = [resolve_run(r) for r in runs] if runs else [resolve_run()]
    if data_path is None:
        check_evaluation_data(run_dirs, split)
    import_tensorflow(verbose(ctx))
    from signclf.evaluate import evaluate as run_evaluation

    return run_evaluation(run_dirs, split=split, data_path=data_path, batch_size=batch_size, log=log, tta=tta)
