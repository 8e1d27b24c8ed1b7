"""The evaluate command's own checks: data paths before TensorFlow, options that do not combine."""

import pytest
from click.testing import CliRunner

from signclf.cli import main
from signclf.cli_evaluate import check_evaluation_data
from signclf.errors import ConfigError


def test_a_run_whose_data_moved_is_one_line_naming_data(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(f"data:\n  train: {tmp_path}/gone/train.p\n  valid: {tmp_path}/gone/valid.p\n")
    with pytest.raises(ConfigError, match=r"gone/valid.p: no such file or directory \(data.valid of .*\); "
                                          r"if the data moved, pass --data PATH"):
        check_evaluation_data([run], "valid")
    with pytest.raises(ConfigError, match="its config has no data.test; evaluate a dataset with --data PATH"):
        check_evaluation_data([run], "test")


def test_views_and_corruptions_do_not_combine(tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "--run", str(tmp_path), "--corruptions", "--tta", "3"])
    assert result.exit_code != 0 and "--tta and --corruptions are exclusive" in result.output
