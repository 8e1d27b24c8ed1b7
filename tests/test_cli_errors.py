import os
import signal

import click
import pytest
from click.testing import CliRunner

from signclf.atomic import atomic_write
from signclf.cli_errors import Interrupted, OneLineErrors, stop_on_signals
from signclf.errors import ConfigError, DataError


def group_raising(exc):
    @click.group(cls=OneLineErrors)
    def top():
        pass

    @top.command()
    def go():
        raise exc

    return top


@pytest.mark.parametrize("exc, code", [(ConfigError("c.yaml: bad key"), 2), (DataError("x.p: broken"), 1),
                                       (Interrupted("stopped", 143), 143)])
def test_signclf_errors_are_one_line_with_their_exit_code(exc, code):
    result = CliRunner().invoke(group_raising(exc), ["go"])
    assert result.exit_code == code and result.output == f"error: {exc}\n"


def test_error_lines_are_escaped_for_the_terminal():
    result = CliRunner().invoke(group_raising(DataError("\x1b[2Jevil\n.png: not an image")), ["go"])
    assert result.output == "error: \\x1b[2Jevil\\n.png: not an image\n"


def test_ctrl_c_exits_130_with_one_line_not_aborted():
    result = CliRunner().invoke(group_raising(KeyboardInterrupt()), ["go"])
    assert result.exit_code == 130 and result.output == "error: go interrupted (Ctrl-C)\n"


@pytest.mark.parametrize("sig, code, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")])
def test_signals_raise_interrupted_and_restore_the_handlers(sig, code, name):
    before = signal.getsignal(sig)
    with pytest.raises(Interrupted) as e:
        with stop_on_signals("evaluate"):
            os.kill(os.getpid(), sig)  # the handler runs before the next line
            raise AssertionError("the signal was not turned into Interrupted")
    assert e.value.exit_code == code and str(e.value).startswith(f"evaluate interrupted by {name}")
    assert signal.getsignal(sig) is before


def test_sigterm_during_an_atomic_write_leaves_no_temp_file(tmp_path):
    target = tmp_path / "evaluation.json"
    target.write_text("old")

    def write(f):
        f.write(b"new, half")
        os.kill(os.getpid(), signal.SIGTERM)
        f.write(b" written")

    with pytest.raises(Interrupted):
        with stop_on_signals("evaluate"):
            atomic_write(target, write)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["evaluation.json"]
