"""Bundles in ONNX Runtime and LiteRT: same probabilities as the checkpoint, and predict/evaluate
--model give the --run output with TensorFlow unimportable."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from export_fixtures import train_tiny_run, write_tiny_data

from signclf.runtime import BundleModel, model_format, open_model

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")
pytest.importorskip("tf2onnx")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from signclf.export import export

    root = tmp_path_factory.mktemp("runtime")
    data = write_tiny_data(root / "data")
    run = train_tiny_run(data, root / "run")
    bundle = export([run], root / "bundle", ["saved_model", "onnx", "tflite", "tflite-int8"], log=lambda *a: None)
    return root, data, run, bundle


def valid_images(data):
    import pickle

    with open(data / "valid.p", "rb") as f:
        return pickle.load(f)["features"]


@pytest.mark.parametrize("fmt, tolerance", [("onnx", 1e-5), ("tflite", 1e-5), ("tflite-int8", 0.2)])
def test_each_runtime_matches_the_checkpoint(tiny, fmt, tolerance):
    from signclf.inference import LoadedRun

    _, data, run, bundle = tiny
    x = valid_images(data)
    with BundleModel(bundle, fmt) as model:
        got = model.probabilities(x, batch_size=5)  # several batches, the last one short
        assert model.class_names == ["red disc", "blue square", "green triangle", "white bar"]
    loaded = LoadedRun(run)
    expected = loaded.probabilities(x)
    loaded.close()
    assert got.shape == expected.shape == (32, 4)
    assert np.abs(got - expected).max() <= tolerance
    assert (got.argmax(1) == expected.argmax(1)).mean() >= (1.0 if fmt != "tflite-int8" else 0.9)


def test_any_image_size_goes_through_the_shared_preprocessing(tiny):
    _, _, _, bundle = tiny
    with open_model(bundle) as model:
        probs = model.probabilities([np.zeros((50, 70, 3), np.uint8), np.zeros((12, 12, 3), np.uint8)])
        assert probs.shape == (2, 4) and np.allclose(probs.sum(1), 1, atol=1e-5)
        assert model.probabilities([]).shape == (0, 4)


def test_model_paths_name_their_runtime(tiny):
    _, _, _, bundle = tiny
    assert [model_format(bundle / n) for n in ("model.onnx", "model.tflite", "model-int8.tflite")] == \
        ["onnx", "tflite", "tflite-int8"]
    with open_model(bundle / "model-int8.tflite") as model:
        assert model.format == "tflite-int8" and model.root == bundle


def test_a_tampered_model_is_refused_before_it_runs(tiny, tmp_path):
    import shutil

    from signclf.errors import CheckpointError

    copy = shutil.copytree(tiny[3], tmp_path / "copy")
    with open(copy / "model.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        open_model(copy)


def signclf(cwd, *args, no_tensorflow=False):
    """Run the CLI in a subprocess; with no_tensorflow, `import tensorflow` fails in it."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if no_tensorflow:
        (cwd / "no_tf").mkdir(exist_ok=True)
        (cwd / "no_tf" / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None\n")
        env["PYTHONPATH"] = f"{cwd / 'no_tf'}{os.pathsep}{REPO}"
    return subprocess.run([sys.executable, "-m", "signclf", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_predict_and_evaluate_with_a_bundle_need_no_tensorflow_and_match_the_run(tiny):
    root, data, run, bundle = tiny
    images = root / "images"
    images.mkdir(exist_ok=True)
    for i, img in enumerate(valid_images(data)[::4]):
        cv2.imwrite(str(images / f"{i}.png"), img[:, :, ::-1])
    (images / "broken.png").write_bytes(b"not a png")

    by_model = signclf(root, "predict", "--model", "bundle", "images", no_tensorflow=True)
    by_run = signclf(root, "predict", "--run", "run", "images")
    assert by_model.returncode == by_run.returncode == 1  # the broken file
    assert by_model.stdout == by_run.stdout and by_model.stdout.count("images/") == 8
    jsonl = signclf(root, "predict", "--model", "bundle/model.tflite", "--jsonl", "images", no_tensorflow=True)
    assert jsonl.stderr.startswith("error: 1 of 9 input(s)") and jsonl.stderr.count("\n") == 1  # no LiteRT log
    assert [json.loads(line)["path"] for line in jsonl.stdout.splitlines()][:2] == ["images/0.png", "images/1.png"]

    evaluated = signclf(root, "evaluate", "--model", "bundle", "--json", no_tensorflow=True)
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads(evaluated.stdout)
    reference = json.loads(signclf(root, "evaluate", "--run", "run", "--json").stdout)
    for key in ("accuracy", "top5_accuracy", "macro_f1", "per_class", "n", "split", "dataset"):
        assert results[key] == reference[key], key
    assert results["runs"] == ["bundle"] and (bundle / "evaluation.json").is_file()
    assert (bundle / "confusion-valid.csv").read_text() == (run / "confusion-valid.csv").read_text()


def test_missing_and_conflicting_model_options_are_one_line(tiny):
    root = tiny[0]
    missing = signclf(root, "predict", "--model", "nowhere", "images", no_tensorflow=True)
    assert missing.returncode == 1 and missing.stderr.strip().count("\n") == 0
    assert "not a signclf model bundle" in missing.stderr
    both = signclf(root, "evaluate", "--model", "bundle", "--run", "run")
    assert both.returncode == 2 and "--model and --run are exclusive" in both.stderr


def test_a_bundle_without_onnx_runs_its_tflite_model(tiny, tmp_path):
    from signclf.evaluate import evaluate_bundle
    from signclf.export import export

    _, data, run, _ = tiny
    only = export([run], tmp_path / "only-tflite", ["tflite"], log=lambda *a: None)
    with open_model(only) as model:
        assert model.format == "tflite"
    results = evaluate_bundle([only])
    assert results["n"] == 32 and results["accuracy"] >= 0.9 and results["split"] == "valid"
    assert (only / "confusion-valid.png").is_file()


def test_bundles_of_differently_preprocessed_runs_predict_as_a_committee_without_tensorflow(tiny):
    from signclf.export import export

    root, data, run, _ = tiny
    gray = train_tiny_run(data, root / "run-gray", **{"preprocess.color": "gray", "preprocess.equalize": "hist"})
    export([gray], root / "bundle-gray", ["onnx"], log=lambda *a: None)
    images = root / "committee-images"
    images.mkdir(exist_ok=True)
    for i, img in enumerate(valid_images(data)[::8]):
        cv2.imwrite(str(images / f"{i}.png"), img[:, :, ::-1])

    by_models = signclf(root, "predict", "--model", "bundle", "--model", "bundle-gray", "--json", "committee-images",
                        no_tensorflow=True)
    by_runs = signclf(root, "predict", "--run", "run", "--run", "run-gray", "--json", "committee-images")
    assert by_models.returncode == by_runs.returncode == 0, by_models.stderr + by_runs.stderr
    got, expected = json.loads(by_models.stdout), json.loads(by_runs.stdout)
    assert len(got) == len(expected) == 4
    for a, b in zip(got, expected):
        assert [c["class_id"] for c in a["top_k"]] == [c["class_id"] for c in b["top_k"]]
        assert np.allclose([c["prob"] for c in a["top_k"]], [c["prob"] for c in b["top_k"]], atol=1e-4)

    evaluated = signclf(root, "evaluate", "--model", "bundle", "--model", "bundle-gray", "--json", no_tensorflow=True)
    reference = signclf(root, "evaluate", "--run", "run", "--run", "run-gray", "--json")
    assert evaluated.returncode == reference.returncode == 0, evaluated.stderr
    results, expected = json.loads(evaluated.stdout), json.loads(reference.stdout)
    assert results["accuracy"] == expected["accuracy"] and results["n"] == expected["n"] == 32
    assert results["runs"] == ["bundle", "bundle-gray"]
