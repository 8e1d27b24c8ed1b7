import click
import pytest
from click.testing import CliRunner

from signclf.cli_options import batch_size_option, no_progress_option, show_progress, verbose, verbose_option
from signclf.config import INFERENCE_BATCH_SIZE


@click.group()
@click.option("--verbose", "root_verbose", is_flag=True)
@click.pass_context
def top(ctx, root_verbose):
    ctx.obj = {"verbose": root_verbose}


@top.command()
@batch_size_option
@no_progress_option
@verbose_option
@click.pass_context
def run(ctx, batch_size, no_progress):
    click.echo(f"verbose={verbose(ctx)} batch={batch_size} progress={show_progress(no_progress)}")


@pytest.mark.parametrize("args, shown", [(["run"], "verbose=False"), (["--verbose", "run"], "verbose=True"),
                                         (["run", "--verbose"], "verbose=True")])
def test_verbose_before_or_after_the_subcommand(args, shown):
    result = CliRunner().invoke(top, args)
    assert result.exit_code == 0 and result.output.startswith(shown)


def test_defaults_and_no_bars_off_a_terminal():
    result = CliRunner().invoke(top, ["run", "--batch-size", "64"])
    assert result.output == "verbose=False batch=64 progress=False\n"  # CliRunner's stderr is not a terminal
    assert f"batch={INFERENCE_BATCH_SIZE} " in CliRunner().invoke(top, ["run", "--no-progress"]).output
    assert CliRunner().invoke(top, ["run", "--batch-size", "0"]).exit_code == 2


def test_show_progress_needs_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert show_progress(False) is True and show_progress(True) is False
