"""Progress bars, with one switch for the whole command.

Bars go to stderr and only when it is a terminal: redirected to a log, their carriage-return
frames would be noise. `--no-progress` turns every bar of the command off, the decoding and
download bars deep in the data readers included, through `enable(False)`.
"""

from __future__ import annotations

_enabled = True


def enable(on: bool) -> None:
    global _enabled
    _enabled = on


def bar(iterable=None, *, show: bool = True, **tqdm_options):
    """A tqdm bar on stderr, drawn only if `show`, the command's switch is on and stderr is a terminal."""
    from tqdm import tqdm

    return tqdm(iterable, disable=None if (show and _enabled) else True, leave=False, **tqdm_options)
