import os
import stat
import subprocess
import sys

import pytest

from signclf import atomic
from signclf.atomic import (
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    remove_stale_temps,
    replace_folder,
    shareable_dir,
)


def write_under_umask(tmp_path, umask: int) -> dict:
    """Import signclf.atomic in a fresh process whose umask is `umask`; report the modes it gives."""
    code = (
        "import json, os, sys, tempfile\n"
        "from signclf.atomic import UMASK, atomic_write_text, shareable_dir\n"
        "out = sys.argv[1]\n"
        "atomic_write_text(os.path.join(out, 'f.txt'), 'x')\n"
        "d = shareable_dir(tempfile.mkdtemp(dir=out))\n"
        "print(json.dumps({'umask': UMASK, 'file': os.stat(os.path.join(out, 'f.txt')).st_mode & 0o777,"
        " 'dir': os.stat(d).st_mode & 0o777, 'umask_after': os.umask(0)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                          preexec_fn=lambda: os.umask(umask), check=True)
    import json

    return json.loads(done.stdout)


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700),
                                                         (0o002, 0o664, 0o775)])
def test_files_and_folders_get_the_mode_the_umask_allows(tmp_path, umask, file_mode, dir_mode):
    got = write_under_umask(tmp_path, umask)
    assert got == {"umask": umask, "file": file_mode, "dir": dir_mode, "umask_after": umask}


def test_umask_read_here_matches_the_process_umask():
    current = os.umask(0o022)
    os.umask(current)
    assert atomic.UMASK == current
    assert atomic.FILE_MODE == 0o666 & ~current


def test_replaces_the_whole_file(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"v": 1})
    atomic_write_json(path, {"v": 2})
    assert path.read_text() == '{\n  "v": 2\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_failing_writer_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "keep.txt"
    atomic_write_text(path, "old\n")

    def half_then_fail(f):
        f.write(b"new, but only ha")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_remove_stale_temps_removes_only_temp_files(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch\n")
    (tmp_path / ".metrics.csv.abc123.tmp").write_text("half")
    removed = remove_stale_temps(tmp_path)
    assert [p.name for p in removed] == [".metrics.csv.abc123.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def test_shareable_dir_gives_mkdir_s_mode(tmp_path):
    import tempfile

    folder = tempfile.mkdtemp(dir=tmp_path)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    shareable_dir(folder)
    assert stat.S_IMODE(os.stat(folder).st_mode) == atomic.DIR_MODE


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_the_old_file(tmp_path, monkeypatch):
    import errno

    from signclf import atomic
    from signclf.errors import SignclfError

    target = tmp_path / "metrics.csv"
    target.write_text("old\n")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(SignclfError) as e:
        atomic.atomic_write_text(target, "new\n")
    assert str(e.value) == f"{target}: cannot write (No space left on device); free some space and run the " \
                           "command again"
    assert isinstance(e.value, OSError) and e.value.errno == errno.ENOSPC  # tolerant callers still catch OSError
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def test_an_unwritable_folder_is_one_line(tmp_path):
    from signclf.atomic import FileWriteError, atomic_write_text

    with pytest.raises(FileWriteError, match="missing/x.json: cannot write .*permissions or write somewhere else"):
        atomic_write_text(tmp_path / "missing" / "x.json", "{}")


def test_stale_temps_can_be_limited_to_some_files(tmp_path):
    for name in (".metrics.csv.a1.tmp", ".summary.json.b2.tmp", ".evaluation.json.c3.tmp"):
        (tmp_path / name).write_text("half")
    removed = remove_stale_temps(tmp_path, ["metrics.csv", "summary.json"])
    assert [p.name for p in removed] == [".metrics.csv.a1.tmp", ".summary.json.b2.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == [".evaluation.json.c3.tmp"]  # an evaluate may be writing it


def folder(path, **files):
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def test_replace_folder_puts_a_new_folder_in_place_and_drops_the_old_one_only_after(tmp_path):
    target = tmp_path / "out" / "bundle"
    replace_folder(folder(tmp_path / ".work1", a="first"), target)  # the parent is made
    assert [p.name for p in target.iterdir()] == ["a"] and not (tmp_path / ".work1").exists()
    replace_folder(folder(tmp_path / "out" / ".work2", b="second"), target)
    assert [p.name for p in target.iterdir()] == ["b"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["bundle"]  # no .old or work folder left


def test_replace_folder_puts_the_old_folder_back_when_the_new_one_cannot_move_in(tmp_path, monkeypatch):
    target = folder(tmp_path / "bundle", a="keep me")
    built = folder(tmp_path / ".work", b="new")
    real_replace = os.replace

    def second_rename_fails(src, dst):
        if str(src) == str(built):
            raise OSError(18, "Invalid cross-device link")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", second_rename_fails)
    with pytest.raises(OSError):
        replace_folder(built, target)
    assert (target / "a").read_text() == "keep me" and (built / "b").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".work", "bundle"]
