"""signclf export on a tiny run: every format, the metadata, committees, --verify and bad input."""

import json

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from click.testing import CliRunner
from export_fixtures import train_tiny_run, write_tiny_data

from signclf import export as export_module
from signclf.bundle import METADATA, read_bundle, sha256
from signclf.errors import CheckpointError, SignclfError
from signclf.export import ONNX_OPSET, export, preprocessing_key

pytest.importorskip("tf2onnx")
ALL = ["saved_model", "onnx", "tflite", "tflite-int8"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data = write_tiny_data(root / "data")
    runs = {"a": train_tiny_run(data, root / "a"),
            "b": train_tiny_run(data, root / "b", **{"train.seed": 3, "model.batch_norm": True})}
    bundle = export([runs["a"]], root / "bundle", ALL, log=lambda *a: None)
    return root, data, runs, bundle


def images(n=10, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)


def test_the_bundle_has_every_format_and_self_describing_metadata(tiny):
    root, _, runs, bundle = tiny
    meta = json.loads((bundle / METADATA).read_text())
    assert sorted(p.name for p in bundle.iterdir()) == ["config.yaml", "model-int8.tflite", "model.onnx",
                                                        "model.tflite", "saved_model", METADATA]
    assert meta["format"] == 1 and meta["class_names"] == ["red disc", "blue square", "green triangle", "white bar"]
    assert meta["files"]["onnx"]["opset"] == ONNX_OPSET
    for fmt, entry in meta["files"].items():
        assert entry["sha256"] == sha256(bundle / entry["path"]), fmt
    assert meta["preprocess"]["color"] == "rgb" and meta["preprocess"]["image_size"] == 32
    member = meta["members"][0]
    assert member["run"] == str(runs["a"].resolve()) and "checkpoints/best" in member["checkpoint"]
    assert len(member["stats"]["mean"]) == 3 and 0 <= member["valid_accuracy"] <= 1
    assert {"signclf", "tensorflow", "tf2onnx"} <= set(meta["versions"])
    read_bundle(bundle).verify()
    assert not list(root.glob(".bundle.*"))  # the temp folder was renamed, not left behind


def test_the_saved_model_serves_image_to_probabilities_and_classes(tiny):
    from signclf.inference import LoadedRun

    _, _, runs, bundle = tiny
    x = images()
    graph = tf.Graph()
    with tf.Session(graph=graph) as sess:
        meta_graph = tf.saved_model.loader.load(sess, [tf.saved_model.SERVING], str(bundle / "saved_model"))
        signature = meta_graph.signature_def["serving_default"]
        assert signature.inputs["image"].dtype == tf.uint8.as_datatype_enum
        assert [d.size for d in signature.inputs["image"].tensor_shape.dim] == [-1, 32, 32, 3]
        probs, classes = sess.run([signature.outputs["probabilities"].name, signature.outputs["classes"].name],
                                  {signature.inputs["image"].name: x})
    run = LoadedRun(runs["a"])
    expected = run.probabilities(x)
    run.close()
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert classes.dtype == np.int64 and (classes == expected.argmax(1)).all()


def test_verify_passes_every_float_format_and_reports_the_int8_model(tiny):
    from signclf.export_verify import format_table, verify

    _, _, runs, bundle = tiny
    rows = verify(bundle, [runs["a"]], log=lambda *a: None)
    assert [r.name for r in rows] == ["saver", "saved_model", "onnx", "tflite", "tflite-int8", "opencv-dnn"]
    for row in rows:
        if row.is_float:
            assert row.agreement == 1.0 and row.max_delta <= 1e-4 and row.passes, row
    int8 = rows[4]
    assert int8.size < rows[3].size and int8.accuracy >= rows[0].accuracy - 0.1
    assert "int8: accuracy" in format_table(rows) and "× smaller than model.tflite" in format_table(rows)


def test_a_committee_exports_as_one_model_averaging_its_members(tiny):
    from signclf.inference import Committee
    from signclf.runtime import BundleModel

    root, _, runs, _ = tiny
    out = export([runs["a"], runs["b"]], root / "committee", ["saved_model", "onnx"], log=lambda *a: None)
    meta = json.loads((out / METADATA).read_text())
    assert [m["run"] for m in meta["members"]] == [str(runs["a"].resolve()), str(runs["b"].resolve())]
    x = images(7, seed=1)
    with Committee([runs["a"], runs["b"]]) as committee, BundleModel(out, "onnx") as model:
        np.testing.assert_allclose(model.probabilities(x), committee.probabilities(x), atol=1e-5)


def test_a_committee_with_different_preprocessing_is_refused(tiny):
    root, data, runs, _ = tiny
    gray = train_tiny_run(data, root / "gray", **{"preprocess.color": "gray"})
    assert preprocessing_key(read_cfg(gray)) != preprocessing_key(read_cfg(runs["a"]))
    with pytest.raises(CheckpointError, match="preprocessing .* differs .* separate bundles .* --model A --model B"):
        export([runs["a"], gray], root / "mixed", ["saved_model"], log=lambda *a: None)
    assert not (root / "mixed").exists()


def read_cfg(run):
    from signclf.rundir import read_run

    return read_run(run).cfg


def test_an_export_into_a_non_empty_folder_needs_force(tiny):
    root, _, runs, _ = tiny
    out = root / "occupied"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SignclfError, match="not empty; pass --force"):
        export([runs["a"]], out, ["saved_model"], log=lambda *a: None)
    assert (out / "notes.txt").read_text() == "mine"
    export([runs["a"]], out, ["saved_model"], force=True, log=lambda *a: None)
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "saved_model", METADATA]


def test_an_interrupted_export_leaves_no_half_bundle(tiny, monkeypatch):
    root, _, runs, _ = tiny

    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(export_module, "_write_tflite", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export([runs["a"]], root / "half", ["saved_model", "tflite"], log=lambda *a: None)
    assert not (root / "half").exists() and not list(root.glob(".half.*"))


def test_cli_export_verify_prints_the_table_and_an_unknown_format_exits_2(tiny):
    from signclf.cli import main

    root, _, runs, _ = tiny
    result = CliRunner().invoke(main, ["export", "--run", str(runs["a"]), "--format", "onnx", "--out",
                                       str(root / "cli"), "--verify"])
    assert result.exit_code == 0, result.output
    assert "opencv-dnn" in result.output and f"wrote {root / 'cli'}" in result.output
    bad = CliRunner().invoke(main, ["export", "--run", str(runs["a"]), "--format", "onxx"])
    assert bad.exit_code == 2 and "unknown format onxx" in bad.output


def test_a_failed_verification_publishes_nothing(tiny):
    root, _, runs, _ = tiny

    def disagree(folder):
        assert (folder / METADATA).is_file()  # it sees the finished bundle
        raise SignclfError("onnx disagrees")

    with pytest.raises(SignclfError, match="onnx disagrees"):
        export([runs["a"]], root / "unverified", ["saved_model"], log=lambda *a: None, before_publish=disagree)
    assert not (root / "unverified").exists() and not list(root.glob(".unverified.*"))


def test_best_yamls_ingredients_export_and_verify(tmp_path):
    """A transformer, a moving average and five input channels (RGB + extra gray views), as best.yaml."""
    from signclf.export_verify import verify

    data = write_tiny_data(tmp_path / "data")
    run = train_tiny_run(data, tmp_path / "stn", **{"model.stn": True, "train.ema_decay": 0.9,
                                                   "preprocess.color": "rgb", "preprocess.extra": "[hist, lcn]"})
    bundle = export([run], tmp_path / "bundle", ALL, log=lambda *a: None)
    meta = json.loads((bundle / METADATA).read_text())
    assert meta["input"]["shape"][-1] == 5 and meta["preprocess"]["extra_gray_channels"] == ["hist", "lcn"]
    rows = verify(bundle, [run], log=lambda *a: None)
    for row in rows:
        if row.is_float:
            assert row.agreement == 1.0 and row.max_delta <= 1e-4 and row.passes, row
