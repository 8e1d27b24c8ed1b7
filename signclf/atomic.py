"""Write files so that a crash never leaves half of one: temp file in the same folder, fsync, rename.

Every file signclf writes for the user (run files, plots, datasets) goes through `atomic_write`, so
each is either its old or its new version, never a truncated mix. The temp file is made by mkstemp
(mode 0600); it gets the mode an ordinary `open` would have given before it is renamed into place,
so a colleague or a TensorBoard server can read what signclf writes whenever the umask allows it.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from signclf.errors import SignclfError


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


class FileWriteError(SignclfError, OSError):
    """A file could not be written (full disk, read-only folder): one line naming it. Still an
    OSError, so code that tolerates write failures (the decode cache) keeps tolerating them."""

    def __init__(self, path: Path, cause: OSError):
        reason = cause.strerror or str(cause)
        hint = "free some space and run the command again" if cause.errno == errno.ENOSPC else \
            "check the folder's permissions or write somewhere else"
        self.message = f"{path}: cannot write ({reason}); {hint}"
        super().__init__(self.message)
        self.errno, self.strerror, self.filename = cause.errno, cause.strerror, str(path)

    def __str__(self) -> str:  # OSError's own would print "[Errno 28] ..." once errno is set
        return self.message


def atomic_write(path, write: Callable) -> Path:
    """Call write(binary file) on a temp file beside `path`, fsync it, then os.replace it into place."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise FileWriteError(path, e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), FILE_MODE)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, SignclfError):
            raise FileWriteError(path, e) from None
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


def replace_folder(built, target) -> Path:
    """Put folder `built` at `target` by renames alone (same file system): readers see the old folder
    or the new, never half of one. An old `target` is deleted only once the new one is in place, and
    put back if the second rename fails."""
    built, target = Path(built), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.replace(built, target)
        return target
    trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    try:
        os.replace(target, trash / "previous")
        try:
            os.replace(built, target)
        except OSError:
            os.replace(trash / "previous", target)
            raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)
    return target


def remove_stale_temps(folder, names=None) -> list[Path]:
    """Delete temp files that a killed process left mid-`atomic_write` in `folder` (the real
    files beside them are intact: the rename never happened), only those of the files in `names`
    when given. Returns what was removed."""
    patterns = [f".{name}.*.tmp" for name in names] if names is not None else [".*.tmp"]
    stale = sorted({tmp for pattern in patterns for tmp in Path(folder).glob(pattern)})
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale
