"""Creating, locking and pointing at runs: the steps that change which folders exist.

A new run only ever takes an empty folder, or with --force a folder that is recognisably a run and
holds nothing else; it is locked for as long as it trains, and deleted again when it fails before
saving a checkpoint. `runs/latest` only ever replaces a link (or the text file signclf writes where
links are not possible), never a user's file or folder.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from signclf.atomic import atomic_write_text, remove_stale_temps
from signclf.errors import CheckpointError, SignclfError
from signclf.rundir.layout import RunPaths, read_format

DEFAULT_RUNS = Path("runs")
LATEST = "latest"
_LATEST_TEXT_LIMIT = 4096  # the text-file form of `latest` holds one path


class RunLock:
    """An exclusive, non-blocking flock on the run's lock file, released when the process ends
    however it ends. Only writers (train, resume) take it; readers never wait for it."""

    def __init__(self, run_dir):
        self.paths = RunPaths(run_dir)
        self._fd = None

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as e:
            raise SignclfError(f"{self.paths.root}: cannot create its lock file ({e.strerror}); "
                               f"check the folder's permissions or use another --run DIR") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read_pid(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise RunBusy(self.paths.root, holder) from None
            raise SignclfError(f"{self.paths.root}: cannot lock the run ({e.strerror}); "
                               f"use a --run DIR on a local disk") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class RunBusy(SignclfError):
    """Another process holds the run's lock."""

    def __init__(self, run_dir, pid: str):
        super().__init__(f"{run_dir} is being trained by another process (pid {pid}); "
                         f"wait for it to finish or use another --run DIR")
        self.pid = pid


def _read_pid(fd) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return "unknown"
    return text if text.isdigit() else "unknown"


def training_pid(run_dir) -> str | None:
    """The pid of the process training the run now, or None (probes the lock without keeping it)."""
    # Read-only and a shared probe: looking at a run (report, runs) must not rewrite its lock file.
    try:
        fd = os.open(RunPaths(run_dir).lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file, or unreadable: no evidence of a live writer
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return _read_pid(fd) if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN) else None
    finally:
        os.close(fd)  # closing releases the probe's shared lock
    return None


def is_run(run_dir) -> bool:
    """Recognisably a signclf run: run.json, or (runs of format 1) config.yaml beside checkpoints/."""
    paths = RunPaths(run_dir)
    if paths.run_file.is_file():
        try:
            read_format(paths.root)
        except CheckpointError:
            return False
        return True
    return paths.config.is_file() and paths.checkpoints.is_dir()


def _contains(folder: Path, path: Path) -> bool:
    return path == folder or folder in path.parents


def _refuse_replacing(run_dir: Path, protect) -> None:
    """Why `--force` may not replace run_dir, as a one-line error; nothing is deleted before this passes."""
    where = run_dir.resolve()
    if _contains(where, Path.cwd().resolve()):
        raise SignclfError(f"--force --run {run_dir}: that is the current directory or one of its parents; "
                           f"refusing to replace it. Choose another --run DIR")
    for data in protect:
        if data and _contains(where, Path(data).expanduser().resolve()):
            raise SignclfError(f"--force --run {run_dir}: it contains {data}, which this run reads; "
                               f"refusing to replace it. Choose another --run DIR")
    if not is_run(run_dir):
        raise SignclfError(f"--force --run {run_dir}: not a signclf run (no run.json, nor config.yaml with "
                           f"checkpoints/); --force only replaces runs. Choose another --run DIR")
    paths = RunPaths(run_dir)
    foreign = sorted(entry.name for entry in run_dir.iterdir() if not paths.is_known(entry))
    if foreign:
        raise SignclfError(f"--force --run {run_dir}: it also holds files signclf did not write "
                           f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); move them away "
                           f"or choose another --run DIR")


def _remove_run_files(run_dir: Path, keep_lock: bool) -> None:
    """Delete the files signclf writes into a run (nothing else is ever there when this is called)."""
    paths = RunPaths(run_dir)
    for entry in run_dir.iterdir():
        if not paths.is_known(entry) or (keep_lock and entry.name == paths.lock.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)


def _entries_besides_lock(run_dir: Path) -> list[Path]:
    lock_name = RunPaths(run_dir).lock.name
    return [entry for entry in run_dir.iterdir() if entry.name != lock_name]


def _check_target(run_dir: Path, force: bool, protect) -> None:
    if run_dir.name == LATEST:
        raise SignclfError(f"--run {run_dir}: '{LATEST}' is the name of the link to the newest run; "
                           f"choose another --run DIR")
    if not run_dir.exists():
        return
    if not run_dir.is_dir():
        raise SignclfError(f"--run {run_dir}: exists and is not a directory; choose another --run DIR")
    pid = training_pid(run_dir)
    if pid is not None:
        raise RunBusy(run_dir, pid)
    if force:
        _refuse_replacing(run_dir, protect)
    elif _entries_besides_lock(run_dir):
        raise SignclfError(f"{run_dir}: run directory already exists and is not empty; "
                           f"use --resume {run_dir} to continue it, --force to overwrite, or another --run DIR")


def _choose_dir(name: str, run_dir) -> Path:
    if run_dir is not None:
        return Path(run_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    chosen = DEFAULT_RUNS / f"{stamp}-{name or 'run'}"
    suffix = 1
    while chosen.exists():  # two runs started in the same second
        suffix += 1
        chosen = DEFAULT_RUNS / f"{stamp}-{name or 'run'}-{suffix}"
    return chosen


def _missing_folders(path: Path) -> list[Path]:
    """path and those of its parents that do not exist yet, innermost first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


@contextmanager
def new_run(name: str, run_dir=None, force: bool = False, protect=()):
    """Create and lock a new run directory for the `with` body to train into; yields its Path.

    `run_dir` None means runs/<timestamp>-<name>. An existing folder must be empty, or, with `force`,
    a run holding only signclf's files that is neither the current directory, nor one of its
    parents, nor a folder containing any path in `protect` (the data paths the run reads; empty ones are skipped).
    Call it only once the inputs are validated: `force` deletes the old run on entry. If the body
    raises before a checkpoint is saved, what it wrote is deleted again (and the folder, if this
    call created it), so a failed run leaves no half-made run behind."""
    run_dir = _choose_dir(name, run_dir)
    _check_target(run_dir, force, protect)
    created = _missing_folders(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run_dir)
    try:
        lock.acquire()
    except SignclfError:
        _remove_empty(created)
        raise
    try:
        if force:
            _remove_run_files(run_dir, keep_lock=True)
        elif _entries_besides_lock(run_dir):  # another process won the race for this empty folder
            raise SignclfError(f"{run_dir}: run directory already exists and is not empty; "
                               f"use --resume {run_dir} to continue it, --force to overwrite, or another --run DIR")
        try:
            yield run_dir
        except BaseException:
            if not RunPaths(run_dir).has_checkpoint():
                _remove_run_files(run_dir, keep_lock=False)
                _remove_empty(created)
            raise
    finally:
        lock.release()


def _remove_empty(folders) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


@contextmanager
def resumed_run(run_dir):
    """Lock an existing run for the `with` body to continue training; yields its Path. Temp files a
    killed writer left are removed once the lock proves no writer is alive."""
    run_dir = Path(run_dir)
    if not RunPaths(run_dir).config.is_file():
        raise SignclfError(f"{run_dir}: not a signclf run directory (no config.yaml); nothing to resume")
    read_format(run_dir)
    with RunLock(run_dir):
        remove_stale_temps(run_dir, [path.name for path in RunPaths(run_dir).trainer_files])
        yield run_dir


def _latest_text(link: Path) -> Path:
    """The run a text-file `latest` names (one line of UTF-8); ValueError saying why it is not one."""
    with open(link, "rb") as f:
        raw = f.read(_LATEST_TEXT_LIMIT + 1)
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not text or len(raw) > _LATEST_TEXT_LIMIT or "\n" in text:
        raise ValueError("not one line naming a folder")
    return Path(text)


def _names_a_run_beside(link: Path) -> bool:
    """Whether `link` is the text file mark_latest writes where symlinks are not possible."""
    try:
        target = _latest_text(link)
    except (OSError, ValueError):
        return False
    return target.is_absolute() and target.parent == link.parent.resolve() and is_run(target)


def mark_latest(run_dir) -> str | None:
    """Point `<runs>/latest` at this run (a relative symlink, swapped atomically). Call it once the run
    has saved its first checkpoint. Returns a warning line instead when `latest` is not signclf's to
    replace (a user's file or folder) or cannot be written; the run itself is unaffected."""
    run_dir = Path(run_dir).resolve()
    link = run_dir.parent / LATEST
    if not link.is_symlink() and link.exists() and not (link.is_file() and _names_a_run_beside(link)):
        kind = "folder" if link.is_dir() else "file"
        return f"{link} is a {kind} signclf did not make: left as it is, so it does not point at {run_dir}"
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_dir.name)
        os.replace(tmp, link)
        return None
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS) or link.is_dir():
            return f"could not point {link} at {run_dir} ({e.strerror}); pass --run {run_dir} to use this run"
    try:  # filesystems without symlinks: a text file naming the run
        atomic_write_text(link, str(run_dir) + "\n")
    except OSError as e:
        return f"could not point {link} at {run_dir} ({e.strerror}); pass --run {run_dir} to use this run"
    return None


def _follow_latest(latest: Path) -> Path:
    hint = "pass --run DIR, or train a run (signclf train) to repoint it"
    if latest.is_symlink():
        try:
            return latest.resolve(strict=True)
        except (RuntimeError, OSError) as e:  # Python raises RuntimeError for a loop, the OS ELOOP
            if isinstance(e, RuntimeError) or e.errno == errno.ELOOP:
                raise CheckpointError(f"{latest}: a symlink loop, not a link to a run; {hint}") from None
            raise CheckpointError(f"{latest}: points at {os.readlink(latest)}, which does not exist; {hint}") from None
    if latest.is_dir():
        return latest
    if latest.is_file():
        try:
            return _latest_text(latest)
        except ValueError as e:
            raise CheckpointError(f"{latest}: neither a link to a run nor a text file naming one ({e}); "
                                  f"{hint}") from None
        except OSError as e:
            raise CheckpointError(f"{latest}: unreadable ({e.strerror}); {hint}") from None
    raise CheckpointError(f"no run given and no {latest}; train one first (signclf train) or pass --run DIR")


def resolve_run(run=None) -> Path:
    """The run to evaluate/predict with: the one given, else `runs/latest`."""
    run = _follow_latest(DEFAULT_RUNS / LATEST) if run is None else Path(run)
    if not run.is_dir():
        raise CheckpointError(f"{run}: no such run directory")
    if not RunPaths(run).config.is_file():
        raise CheckpointError(f"{run}: not a signclf run directory (no config.yaml)")
    read_format(run)
    return run

