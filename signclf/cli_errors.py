"""A click group that prints our own errors as one line: `error: <what, where, what to do>`."""

from __future__ import annotations

import sys

import click

from signclf.errors import SignclfError


class OneLineErrors(click.Group):
    """Any SignclfError from a subcommand (nested groups included) → one line on stderr + its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SignclfError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)
