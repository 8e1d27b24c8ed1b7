"""Bundle metadata and integrity checks: no TensorFlow needed, so the bundles here are hand-made."""

import json

import pytest

from signclf.bundle import (
    BUNDLE_FORMAT,
    CONFIG,
    METADATA,
    check_destination,
    parse_formats,
    read_bundle,
    require,
    sha256,
)
from signclf.errors import CheckpointError, ConfigError, SignclfError


def fake_bundle(root, fmt=BUNDLE_FORMAT):
    (root / "saved_model" / "variables").mkdir(parents=True)
    (root / "saved_model" / "saved_model.pb").write_bytes(b"graph")
    (root / "model.onnx").write_bytes(b"onnx bytes")
    (root / CONFIG).write_text("name: x\n")
    meta = {"format": fmt, "class_names": ["a", "b"], "config_sha256": sha256(root / CONFIG),
            "files": {"saved_model": {"sha256": sha256(root / "saved_model")},
                      "onnx": {"sha256": sha256(root / "model.onnx")}}}
    (root / METADATA).write_text(json.dumps(meta))
    return root


def test_parse_formats_always_includes_the_saved_model_and_keeps_a_fixed_order():
    assert parse_formats("tflite-int8, onnx") == ["saved_model", "onnx", "tflite-int8"]
    assert parse_formats("saved_model") == ["saved_model"]


@pytest.mark.parametrize("text", ["onxx", "", "onnx,pb"])
def test_an_unknown_format_is_one_config_error_listing_the_choices(text):
    with pytest.raises(ConfigError, match="choose from saved_model,onnx,tflite,tflite-int8"):
        parse_formats(text)


def test_folder_hash_covers_names_and_contents(tmp_path):
    root = fake_bundle(tmp_path / "b")
    before = sha256(root / "saved_model")
    assert before == sha256(root / "saved_model") and len(before) == 64
    (root / "saved_model" / "saved_model.pb").rename(root / "saved_model" / "other.pb")
    assert sha256(root / "saved_model") != before


def test_an_intact_bundle_reads_and_verifies(tmp_path):
    bundle = read_bundle(fake_bundle(tmp_path / "b"))
    bundle.verify()
    assert bundle.class_names == ["a", "b"] and bundle.formats == ["saved_model", "onnx"]
    assert bundle.path("onnx") == tmp_path / "b" / "model.onnx"


def test_a_tampered_file_fails_its_sha256(tmp_path):
    root = fake_bundle(tmp_path / "b")
    (root / "model.onnx").write_bytes(b"onnx bytez")
    with pytest.raises(CheckpointError, match=r"model.onnx: SHA-256 differs from signclf-model.json"):
        read_bundle(root).verify()


def test_a_missing_file_is_named(tmp_path):
    root = fake_bundle(tmp_path / "b")
    (root / "model.onnx").unlink()
    with pytest.raises(CheckpointError, match=r"model.onnx: missing from the bundle; export it again"):
        read_bundle(root).verify(["onnx"])


def test_a_format_the_bundle_lacks_names_the_export_option(tmp_path):
    with pytest.raises(SignclfError, match="has no tflite model .*signclf export --format tflite"):
        read_bundle(fake_bundle(tmp_path / "b")).path("tflite")


def test_a_newer_bundle_format_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match=f"bundle format {BUNDLE_FORMAT + 1} is newer"):
        read_bundle(fake_bundle(tmp_path / "b", fmt=BUNDLE_FORMAT + 1))


def test_a_folder_without_metadata_or_with_damaged_metadata_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not a signclf model bundle"):
        read_bundle(tmp_path)
    (tmp_path / METADATA).write_text("{not json")
    with pytest.raises(CheckpointError, match="damaged"):
        read_bundle(tmp_path)


def test_export_destination_must_be_empty_unless_forced(tmp_path):
    check_destination(tmp_path / "new", force=False)
    (tmp_path / "empty").mkdir()
    check_destination(tmp_path / "empty", force=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(SignclfError, match="not empty; pass --force"):
        check_destination(tmp_path / "full", force=False)
    check_destination(tmp_path / "full", force=True)


def test_a_missing_extra_names_the_pip_command(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SignclfError, match=r"onnxruntime is not installed; run: pip install 'signclf\[runtime\]'"):
        require("onnxruntime")
