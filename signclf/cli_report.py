"""`signclf report` (a run's HTML page) and `signclf runs` (a table comparing runs).

Inputs are checked before TensorFlow loads: a missing run or a moved dataset costs no start-up;
`signclf runs` never loads TensorFlow at all.
"""

from __future__ import annotations

from pathlib import Path

import click

from signclf.cli_errors import stop_on_signals
from signclf.cli_options import batch_size_option, no_progress_option, show_progress, verbose, verbose_option
from signclf.errors import CheckpointError
from signclf.tensorflow_import import import_tensorflow


def _run_dirs(runs) -> list[Path]:
    from signclf.rundir import resolve_run

    for run in runs:
        if not Path(run).is_dir():
            raise CheckpointError(f"{run}: no such run directory; list your runs with signclf runs, or train one "
                                  f"with signclf train")
    return [resolve_run(r) for r in runs] if runs else [resolve_run()]


@click.command("report")
@click.option("--run", "runs", multiple=True, type=click.Path(), metavar="RUN",
              help="Run directory (default runs/latest); repeat for a committee.")
@click.option("--split", type=click.Choice(["valid", "test", "train"]), default=None,
              help="Which data.* path of the run's config to evaluate on  [default: valid].")
@click.option("--data", "data_path", type=click.Path(exists=True),
              help="Evaluate on this dataset instead (any layout).")
@click.option("--image", "images", multiple=True, type=click.Path(), metavar="IMG",
              help="Show feature maps and Grad-CAM for this image (repeatable; default: a few validation images).")
@click.option("--out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Page to write (default RUN/report.html); its pictures go in the folder beside it named like it.")
@batch_size_option
@no_progress_option
@verbose_option
@click.pass_context
def report_command(ctx, runs, split, data_path, images, out, batch_size, no_progress):
    """One self-contained HTML page: summary, curves, confusion, mistakes, feature maps, Grad-CAM, robustness."""
    from signclf.cli_evaluate import check_evaluation_data

    if split and data_path:
        raise click.UsageError("--split and --data are exclusive: evaluate on a split of the run's config or on PATH")
    split = split or "valid"
    progress = show_progress(no_progress)
    with stop_on_signals("report"):
        run_dirs = _run_dirs(runs)
        if data_path is None:
            check_evaluation_data(run_dirs, split)
        import_tensorflow(verbose(ctx))
        from signclf.report import write_report

        result = write_report(run_dirs, out, split=split, data_path=data_path, image_paths=images,
                              batch_size=batch_size, log=lambda line: click.echo(line, err=True), progress=progress)
    size = result.page.stat().st_size
    click.echo(f"wrote {result.page} ({size / 1e6:.1f} MB, {len(result.pictures)} pictures also in "
               f"{result.assets}/) in {result.seconds:.0f} s")


@click.command("runs")
@click.argument("folder", default="runs", type=click.Path())
@click.option("--sort", default="name", show_default=True, metavar="KEY",
              help="name, status, acc, epoch, time, speed, params, or a config key such as train.learning_rate.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
def runs_command(folder, sort, as_json, as_csv):
    """Compare the runs in FOLDER (default runs/): status, accuracy, cost and the config keys that differ."""
    from signclf.runs_table import collect, format_table, to_csv, to_json

    if as_json and as_csv:
        raise click.UsageError("--json and --csv are exclusive: pick one output format")
    rows, keys = collect(folder, sort)
    if as_json:
        click.echo(to_json(rows, keys, folder))
    elif as_csv:
        click.echo(to_csv(rows, keys), nl=False)
    else:
        click.echo(format_table(rows, keys))
