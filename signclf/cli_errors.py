"""Errors and signals become one line: `error: <what, where, what to do>` and an exit code.

SignclfError exits with its own code (ConfigError 2, others 1); Ctrl-C exits 130 and SIGTERM 143,
the shell's convention for "killed by signal 2 / 15". The message is escaped for the terminal:
it often quotes a file name or a value from the user's disk.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

import click

from signclf.errors import SIGINT_EXIT, SIGTERM_EXIT, SignclfError
from signclf.text import printable


class Interrupted(SignclfError):
    """The command was stopped by Ctrl-C or SIGTERM; files it was writing were left as they were."""


class OneLineErrors(click.Group):
    """Any SignclfError from a subcommand (nested groups included) → one line on stderr + its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SignclfError as e:
            click.echo(f"error: {printable(str(e))}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:  # Python's own Ctrl-C handler; click would print "Aborted!" and exit 1
            click.echo(f"error: {ctx.invoked_subcommand or 'signclf'} interrupted (Ctrl-C)", err=True)
            sys.exit(SIGINT_EXIT)


@contextlib.contextmanager
def stop_on_signals(command: str):
    """Inside: Ctrl-C and SIGTERM raise `Interrupted` in the main thread, so `finally` blocks and the
    atomic writers' clean-up run (a temp file is removed, the file it was replacing stays intact).
    The first signal restores the previous handlers: a second one acts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore():
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def stop(signum, frame):
        restore()
        name, code = ("Ctrl-C", SIGINT_EXIT) if signum == signal.SIGINT else ("SIGTERM", SIGTERM_EXIT)
        raise Interrupted(f"{command} interrupted by {name}; no file was left half-written", code)

    for sig in previous:
        signal.signal(sig, stop)
    try:
        yield
    finally:
        restore()
