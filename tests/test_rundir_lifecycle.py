"""Creating, replacing, locking and pointing at runs."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_rundir_layout import previous_layout_run

from signclf.errors import CheckpointError, SignclfError
from signclf.rundir.layout import RunPaths, read_run
from signclf.rundir.lifecycle import RunBusy, is_run, mark_latest, new_run, resolve_run, resumed_run


def finished_run(folder):
    """A run in the previous layout with a (fake) saved checkpoint."""
    run = previous_layout_run(folder)
    (run / "checkpoints" / "last").mkdir(parents=True)
    (run / "checkpoints" / "last" / "checkpoint").write_text('model_checkpoint_path: "model-6"\n')
    return run


def victim(folder):
    folder.mkdir(parents=True)
    (folder / "thesis.tex").write_text("years of work")
    (folder / "results.csv").write_text("a,b\n1,2\n")
    return folder


def assert_victim_intact(folder):
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert (folder / "results.csv").read_text() == "a,b\n1,2\n"


def enter(*args, **kwargs):
    with new_run(*args, **kwargs) as run:
        return run


def test_force_never_replaces_a_folder_that_is_not_a_run(tmp_path):
    folder = victim(tmp_path / "victim")
    with pytest.raises(SignclfError, match="victim: not a signclf run.*--force only replaces runs") as e:
        enter("x", folder, force=True)
    assert "\n" not in str(e.value) and e.value.exit_code == 1
    assert_victim_intact(folder)
    with pytest.raises(SignclfError, match="already exists and is not empty"):
        enter("x", folder)
    assert_victim_intact(folder)


def test_force_never_replaces_a_run_holding_other_files(tmp_path):
    run = finished_run(tmp_path / "run")
    (run / "thesis.tex").write_text("years of work")
    with pytest.raises(SignclfError, match=r"holds files signclf did not write \(thesis.tex\)"):
        enter("x", run, force=True)
    assert (run / "thesis.tex").read_text() == "years of work"
    assert (run / "checkpoints" / "last" / "checkpoint").is_file()


@pytest.mark.parametrize("where", ["cwd", "parent_of_cwd"])
def test_force_never_replaces_the_current_directory_or_its_parents(tmp_path, monkeypatch, where):
    run = finished_run(tmp_path / "run")
    inside = run / "checkpoints" / "last"
    monkeypatch.chdir(run if where == "cwd" else inside)
    with pytest.raises(SignclfError, match="current directory or one of its parents"):
        enter("x", "." if where == "cwd" else run, force=True)
    assert is_run(run) and (inside / "checkpoint").is_file()


def test_force_never_replaces_a_folder_holding_the_data(tmp_path):
    run = finished_run(tmp_path / "run")
    data = run / "checkpoints" / "train.p"
    data.write_bytes(b"pickle")
    with pytest.raises(SignclfError, match=f"it contains {data}, which this run reads"):
        enter("x", run, force=True, protect=[None, "", tmp_path / "elsewhere.p", data])
    assert data.read_bytes() == b"pickle"
    with pytest.raises(SignclfError, match="which this run reads"):
        enter("x", run, force=True, protect=[run])


def test_force_replaces_a_run_and_keeps_it_locked(tmp_path):
    run = finished_run(tmp_path / "run")
    (run / "events.out.tfevents.1.host").write_bytes(b"ev")
    with new_run("x", run, force=True) as fresh:
        assert fresh == run
        assert sorted(p.name for p in run.iterdir()) == [".lock"]
        with pytest.raises(RunBusy, match="is being trained by another process"):
            enter("y", run, force=True)
        (run / "config.yaml").write_text("name: fresh\n")
    assert (run / "config.yaml").read_text() == "name: fresh\n"


def test_a_run_named_latest_is_refused(tmp_path):
    with pytest.raises(SignclfError, match="'latest' is the name of the link to the newest run") as e:
        enter("x", tmp_path / "runs" / "latest")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "runs").exists()


def test_a_failed_run_that_saved_nothing_leaves_no_folder(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(KeyError):
        with new_run("x", runs / "r1") as run:
            (run / "config.yaml").write_text("name: r1\n")
            (run / "checkpoints" / "last").mkdir(parents=True)
            raise KeyError("data failed")
    assert not runs.exists()


def test_a_failed_run_that_saved_a_checkpoint_is_kept(tmp_path):
    with pytest.raises(KeyError):
        with new_run("x", tmp_path / "r") as run:
            (run / "checkpoints" / "last").mkdir(parents=True)
            (run / "checkpoints" / "last" / "checkpoint").write_text('model_checkpoint_path: "model-1"\n')
            raise KeyError("diverged")
    assert RunPaths(tmp_path / "r").has_checkpoint()


def test_a_failure_in_a_given_empty_folder_empties_it_but_keeps_it(tmp_path):
    (tmp_path / "mine").mkdir()
    with pytest.raises(KeyError):
        with new_run("x", tmp_path / "mine") as run:
            (run / "metrics.csv").write_text("epoch\n")
            raise KeyError("interrupted")
    assert list((tmp_path / "mine").iterdir()) == []


def test_default_name_is_stamped_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with new_run("lenet") as first, new_run("lenet") as second:
        assert first.parent == second.parent == tmp_path.joinpath("runs").relative_to(tmp_path)
        assert first.name.endswith("-lenet") and second.name == first.name + "-2"


REPO = Path(__file__).resolve().parents[1]
HOLD_LOCK = textwrap.dedent("""
    import sys
    from signclf.rundir import RunLock
    with RunLock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
""")


@pytest.fixture
def locked_run(tmp_path):
    run = finished_run(tmp_path / "busy")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert holder.stdout.readline() == "locked\n"
    yield run, holder.pid
    holder.communicate("", timeout=30)


def test_a_second_writer_is_refused_while_readers_keep_working(locked_run):
    run, pid = locked_run
    message = f"{run} is being trained by another process (pid {pid}); wait for it to finish or use another --run DIR"
    with pytest.raises(RunBusy) as e:
        with resumed_run(run):
            pytest.fail("entered a locked run")
    assert str(e.value) == message and e.value.exit_code == 1
    with pytest.raises(RunBusy, match=f"pid {pid}"):
        enter("x", run, force=True)
    with pytest.raises(RunBusy, match=f"pid {pid}"):
        enter("x", run)
    assert resolve_run(run) == run and read_run(run).class_names  # readers never take the lock
    assert (run / "checkpoints" / "last" / "checkpoint").is_file()


def test_resume_removes_stale_temps_only_under_the_lock(tmp_path):
    run = finished_run(tmp_path / "r")
    (run / ".metrics.csv.abc.tmp").write_text("half")
    with resumed_run(run) as same:
        assert same == run and not (run / ".metrics.csv.abc.tmp").exists()
    with pytest.raises(SignclfError, match="no config.yaml"):
        with resumed_run(tmp_path):
            pass


def test_latest_points_at_the_run_and_replaces_only_its_own_link(tmp_path):
    runs = tmp_path / "runs"
    a, b = finished_run(runs / "a"), finished_run(runs / "b")
    assert mark_latest(a) is None and os.readlink(runs / "latest") == "a"
    assert mark_latest(b) is None and os.readlink(runs / "latest") == "b"
    (runs / "latest").unlink()
    (runs / "latest").write_text(f"{a.resolve()}\n")  # the form it takes where links are impossible
    assert mark_latest(b) is None and os.readlink(runs / "latest") == "b"
    assert not list(runs.glob(".latest.*"))


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_users_latest_is_never_replaced(tmp_path, kind):
    run = finished_run(tmp_path / "runs" / "r")
    latest = tmp_path / "runs" / "latest"
    if kind == "file":
        latest.write_text("my notes about the latest experiments\n")
    else:
        latest.mkdir()
        (latest / "notes.txt").write_text("mine")
    warning = mark_latest(run)
    assert warning == f"{latest} is a {kind} signclf did not make: left as it is, so it does not point at {run}"
    if kind == "file":
        assert latest.read_text() == "my notes about the latest experiments\n"
    else:
        assert (latest / "notes.txt").read_text() == "mine"
    assert not list(latest.parent.glob(".latest.*"))


def test_a_failed_swap_leaves_no_stale_temporary_link(tmp_path, monkeypatch):
    run = finished_run(tmp_path / "runs" / "r")

    def refuse(src, dst):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    warning = mark_latest(run)
    assert warning.startswith(f"could not point {tmp_path / 'runs' / 'latest'} at {run} (Permission denied)")
    assert not list((tmp_path / "runs").glob(".latest.*"))


def test_resolve_run_follows_latest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = finished_run(tmp_path / "runs" / "r")
    mark_latest(run)
    assert resolve_run() == run
    (tmp_path / "runs" / "latest").unlink()
    (tmp_path / "runs" / "latest").write_text(f"{run}\n")
    assert resolve_run() == run


@pytest.mark.parametrize("latest, problem", [
    ("loop", "a symlink loop, not a link to a run"),
    ("dangling", "points at gone, which does not exist"),
    ("binary", r"neither a link to a run nor a text file naming one \(not UTF-8 text\)"),
    ("two_lines", r"neither a link to a run nor a text file naming one \(not one line naming a folder\)"),
])
def test_a_broken_latest_is_one_line(tmp_path, monkeypatch, latest, problem):
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "runs" / "latest"
    link.parent.mkdir()
    if latest == "loop":
        link.symlink_to("latest")
    elif latest == "dangling":
        link.symlink_to("gone")
    elif latest == "binary":
        link.write_bytes(b"\xff\xfe\x00garbage")
    else:
        link.write_text("runs/a\nruns/b\n")
    with pytest.raises(CheckpointError, match=problem + ".*pass --run DIR") as e:
        resolve_run()
    assert "\n" not in str(e.value)


def test_resolve_run_without_any_run_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="train one first"):
        resolve_run()
    with pytest.raises(CheckpointError, match="not a signclf run directory"):
        resolve_run(tmp_path)


def test_asking_whether_a_run_trains_never_writes_its_lock(tmp_path):
    from signclf.rundir.lifecycle import RunLock, training_pid

    run = tmp_path / "run"
    run.mkdir()
    assert training_pid(run) is None and not RunPaths(run).lock.exists()
    with RunLock(run):
        assert training_pid(run) == str(os.getpid())
    RunPaths(run).lock.write_text("4242\n")
    before = RunPaths(run).lock.stat().st_mtime_ns
    assert training_pid(run) is None  # nobody holds it: the pid inside is history
    assert RunPaths(run).lock.read_text() == "4242\n" and RunPaths(run).lock.stat().st_mtime_ns == before
