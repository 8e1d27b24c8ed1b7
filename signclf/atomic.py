"""Write files so that a crash never leaves half of one: temp file in the same folder, fsync, rename.

Every file signclf writes for the user (run files, plots, datasets) goes through `atomic_write`, so
each is either its old or its new version, never a truncated mix. The temp file is made by mkstemp
(mode 0600); it gets the mode an ordinary `open` would have given before it is renamed into place,
so a colleague or a TensorBoard server can read what signclf writes whenever the umask allows it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable


def _read_umask() -> int:
    """The process umask, read without changing it where Linux tells it (/proc/self/status);
    elsewhere set-and-restore once, at import, before any thread of ours could create a file."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()
FILE_MODE = 0o666 & ~UMASK
DIR_MODE = 0o777 & ~UMASK


def atomic_write(path, write: Callable) -> Path:
    """Call write(binary file) on a temp file beside `path`, fsync it, then os.replace it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), FILE_MODE)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def shareable_dir(path) -> Path:
    """Give a folder made by tempfile.mkdtemp (mode 0700) the mode `mkdir` would have given it."""
    os.chmod(path, DIR_MODE)
    return Path(path)


def remove_stale_temps(folder) -> list[Path]:
    """Delete temp files that a killed process left mid-`atomic_write` in `folder` (the real
    files beside them are intact: the rename never happened). Returns what was removed."""
    stale = sorted(Path(folder).glob(".*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale
