"""The README is the front door: it must document every config key and every command."""

from pathlib import Path

from click.testing import CliRunner

from signclf.cli import main
from signclf.config import documented_keys

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_config_key_is_in_the_reference_table():
    missing = [key for key, _, _ in documented_keys() if f"| `{key}` |" not in README]
    assert not missing, f"README config table lacks {missing}"


def test_every_config_key_has_a_comment():
    assert [key for key, _, comment in documented_keys() if not comment] == []


def test_every_command_is_documented():
    for command in ("train", "cv", "evaluate", "predict", "export", "data synth", "data download", "data summary",
                    "data preview", "cv-score", "report", "runs", "sweep"):
        assert f"signclf {command}" in README, command
        assert CliRunner().invoke(main, command.split() + ["--help"]).exit_code == 0


def test_no_placeholders_left():
    assert "SAMPLE_" not in README and "_TABLE" not in README and "MINUTES" not in README
