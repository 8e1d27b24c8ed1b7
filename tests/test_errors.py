import pytest

from signclf.errors import CheckpointError, ConfigError, DataError, SignclfError


@pytest.mark.parametrize("cls, code", [(SignclfError, 1), (ConfigError, 2), (DataError, 1), (CheckpointError, 1)])
def test_exit_codes(cls, code):
    err = cls("x.yaml: what; do this")
    assert err.exit_code == code and str(err) == "x.yaml: what; do this" and isinstance(err, SignclfError)


def test_exit_code_can_be_given_per_error():
    assert SignclfError("stopped", 143).exit_code == 143 and ConfigError("bad").exit_code == 2
    assert SignclfError("stopped", 130).exit_code == 130 and SignclfError("x").exit_code == 1
