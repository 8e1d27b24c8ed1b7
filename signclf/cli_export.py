"""`signclf export` and the `--model BUNDLE` option that predict and evaluate share.

Like every command, inputs are checked before TensorFlow loads: a wrong --format or a non-empty
--out costs no start-up.
"""

from __future__ import annotations

from pathlib import Path

import click

from signclf.cli_errors import stop_on_signals
from signclf.cli_options import batch_size_option, verbose, verbose_option
from signclf.tensorflow_import import import_tensorflow

ALL_FORMATS = "onnx,tflite,tflite-int8"


def model_option(command):
    return click.option("--model", "models", multiple=True, type=click.Path(), metavar="BUNDLE",
                        help="Use an exported bundle (signclf export) instead of runs: ONNX Runtime, no "
                             "TensorFlow; a .tflite file inside it runs in LiteRT. Repeat to average a "
                             "committee (members may differ in preprocessing).")(command)


@click.command("export")
@click.option("--run", "runs", multiple=True, type=click.Path(), metavar="RUN",
              help="Run directory (default runs/latest); repeat to export a committee as one model.")
@click.option("--format", "formats", default=ALL_FORMATS, show_default=True, metavar="F,...",
              help="Any of saved_model,onnx,tflite,tflite-int8 (the SavedModel is always written).")
@click.option("--out", type=click.Path(file_okay=False), metavar="DIR",
              help="Bundle folder (default RUN/bundle).")
@click.option("--force", is_flag=True, help="Replace a non-empty --out folder.")
@click.option("--verify", is_flag=True,
              help="Compare every format with the checkpoint on the validation set (or --data); fail if a float "
                   "format disagrees.")
@click.option("--data", "data_path", type=click.Path(exists=True), help="Dataset for --verify (any layout).")
@batch_size_option
@verbose_option
@click.pass_context
def export_command(ctx, runs, formats, out, force, verify, data_path, batch_size):
    """Write a trained run (or a committee) as SavedModel, ONNX and TFLite with signclf-model.json."""
    from signclf.bundle import check_destination, parse_formats, require
    from signclf.rundir import resolve_run

    wanted = parse_formats(formats)
    with stop_on_signals("export"):
        run_dirs = [resolve_run(r) for r in runs] if runs else [resolve_run()]
        out = Path(out) if out else Path(run_dirs[0]) / "bundle"
        check_destination(out, force)
        needed = {"tf2onnx"} if "onnx" in wanted else set()
        if verify:  # --verify runs each format in its own runtime
            needed |= {"onnxruntime"} if "onnx" in wanted else set()
            needed |= {"ai_edge_litert"} if {"tflite", "tflite-int8"} & set(wanted) else set()
        for module in sorted(needed):
            require(module)
        import_tensorflow(verbose(ctx))
        from signclf.export import export

        def verify_bundle(folder):
            from signclf.export_verify import check, format_table
            from signclf.export_verify import verify as run_verify

            rows = run_verify(folder, run_dirs, data_path, batch_size, log=click.echo)
            click.echo(format_table(rows))
            check(rows, out)

        export(run_dirs, out, wanted, force=force, log=click.echo, before_publish=verify_bundle if verify else None,
               verbose=verbose(ctx))
        click.echo(f"wrote {out}")
