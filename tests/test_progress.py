import io

import pytest

from signclf import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def switch_back_on():
    yield
    progress.enable(True)


def test_a_bar_is_drawn_on_a_terminal_only():
    assert not progress.bar(total=3, file=Terminal()).disable
    assert progress.bar(total=3, file=io.StringIO()).disable  # a redirected log gets no frames


def test_the_commands_switch_and_the_callers_show_turn_it_off():
    assert progress.bar(total=3, file=Terminal(), show=False).disable
    progress.enable(False)  # --no-progress: every bar of the command, the readers' ones included
    assert progress.bar(total=3, file=Terminal()).disable


def test_no_progress_sets_the_switch():
    from signclf.cli_options import show_progress

    assert show_progress(True) is False and progress.bar(total=1, file=Terminal()).disable
