"""signclf export's command line: bad input is refused before TensorFlow loads."""

import subprocess
import sys

from click.testing import CliRunner

from signclf.cli import main
from signclf.cli_export import ALL_FORMATS, export_command


def test_export_is_a_signclf_command_with_every_format_by_default():
    assert main.get_command(None, "export") is export_command
    assert ALL_FORMATS == "onnx,tflite,tflite-int8"
    result = CliRunner().invoke(main, ["export", "--help"])
    assert result.exit_code == 0 and "--verify" in result.output and "--force" in result.output


def test_predict_and_evaluate_take_a_bundle():
    for name in ("predict", "evaluate"):
        assert "--model" in [opt for p in main.get_command(None, name).params for opt in p.opts]


def test_bad_export_input_fails_before_tensorflow(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("name: x\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    code = ("import sys, json\nfrom click.testing import CliRunner\nfrom signclf.cli import main\n"
            "r = CliRunner().invoke(main, sys.argv[1:])\n"
            "print(json.dumps([r.exit_code, 'tensorflow' in sys.modules]))\nprint(r.output)")
    for args, exit_code, message in [(["--format", "pb"], 2, "unknown format pb"),
                                     (["--out", str(tmp_path / "full")], 1, "not empty; pass --force")]:
        out = subprocess.run([sys.executable, "-c", code, "export", "--run", str(tmp_path / "run"), *args],
                             capture_output=True, text=True, cwd=tmp_path)
        first, rest = out.stdout.split("\n", 1)
        assert first == f"[{exit_code}, false]", out.stdout + out.stderr
        assert message in rest
