"""Options several commands share, spelled and explained the same way everywhere."""

from __future__ import annotations

import sys

import click

from signclf.config import INFERENCE_BATCH_SIZE


def _remember_verbose(ctx, param, value):
    if value:
        root = ctx.find_root()
        if root.obj is None:
            root.obj = {}
        root.obj["verbose"] = True


def verbose(ctx) -> bool:
    """Whether --verbose was given, before or after the subcommand."""
    return bool((ctx.find_root().obj or {}).get("verbose"))


def verbose_option(command):
    """--verbose after the subcommand too (`signclf evaluate --verbose`), same meaning as before it."""
    return click.option("--verbose", is_flag=True, expose_value=False, callback=_remember_verbose,
                        help="Show TensorFlow's own log messages.")(command)


def no_progress_option(command):
    return click.option("--no-progress", is_flag=True,
                        help="No progress bar (bars are only ever drawn when stderr is a terminal).")(command)


def batch_size_option(command):
    return click.option("--batch-size", default=INFERENCE_BATCH_SIZE, show_default=True, type=click.IntRange(1),
                        help="Images per inference step; lower it if memory runs out.")(command)


def tta_option(command):
    from signclf.tta import MAX_VIEWS

    return click.option("--tta", default=1, show_default=True, type=click.IntRange(1, MAX_VIEWS), metavar="N",
                        help=f"Test-time augmentation: average the softmax over N fixed views of each image "
                             f"(shifts and zooms, 1..{MAX_VIEWS}; 1 = off).")(command)


def show_progress(no_progress: bool) -> bool:
    """Set the command's progress-bar switch from --no-progress; True if bars may be drawn (on a terminal)."""
    from signclf import progress

    progress.enable(not no_progress)
    return not no_progress and sys.stderr.isatty()
