"""The --verify verdicts and table (the end-to-end run over a real bundle is in test_export.py)."""

import pytest

from signclf.errors import SignclfError
from signclf.export_verify import FLOAT_TOLERANCE, Row, check, format_table


def rows(onnx_agreement=1.0, onnx_delta=1e-6):
    return [Row("saver", "checkpoint(s)", 1.0, 0.0, 0.95, 0, 1000.0),
            Row("onnx", "model.onnx", onnx_agreement, onnx_delta, 0.95, 4000, 2000.0),
            Row("tflite", "model.tflite", 1.0, 1e-6, 0.95, 4000, 3000.0),
            Row("tflite-int8", "model-int8.tflite", 0.99, 0.2, 0.947, 1000, 4000.0)]


def test_float_formats_must_agree_exactly_and_within_tolerance():
    assert all(r.passes for r in rows())
    assert not rows(onnx_agreement=0.999)[1].passes
    assert not rows(onnx_delta=FLOAT_TOLERANCE * 2)[1].passes
    assert rows()[3].passes  # int8 is reported, never failed


def test_the_table_gives_each_verdict_and_the_int8_change():
    table = format_table(rows(onnx_delta=1e-3)).splitlines()
    assert table[0].split()[:2] == ["format", "file"] and len(table) == 5
    assert table[1].endswith("reference") and table[3].endswith("ok")
    assert "FAILED" in table[2]
    assert table[4].endswith("int8: accuracy -0.30 points, 4.0× smaller than model.tflite")


def test_check_fails_naming_the_formats_that_disagree(tmp_path):
    check(rows(), tmp_path)
    with pytest.raises(SignclfError, match=r"onnx disagree\(s\) with the checkpoint"):
        check(rows(onnx_agreement=0.5), tmp_path)
