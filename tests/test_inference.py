import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from signclf.config import load_config
from signclf.errors import CheckpointError, SignclfError
from signclf.inference import Committee, LoadedRun

tf.disable_eager_execution()

STATS = {"mean": [120.0] * 3, "std": [60.0] * 3}
NAMES = [f"c{i}" for i in range(43)]
IMAGES = np.random.default_rng(0).integers(0, 255, (23, 32, 32, 3), dtype=np.uint8)


def untrained(seed=0, names=NAMES, *overrides):
    cfg = load_config(None, [f"train.seed={seed}", *overrides])
    stats = {k: v[:cfg.input_channels] for k, v in STATS.items()}
    return LoadedRun.untrained(cfg, stats, names)


def test_chunked_and_overlapped_inference_matches_one_batch():
    run = untrained(0, NAMES, "train.towers=2")
    try:
        whole = run.probabilities(IMAGES, batch_size=1024)
        chunked = run.probabilities(IMAGES, batch_size=4)  # 6 chunks, two in flight at a time, order kept
        single = np.concatenate([run.probabilities(IMAGES[i:i + 1]) for i in range(len(IMAGES))])
        empty = run.probabilities(IMAGES[:0])
    finally:
        run.close()
    assert whole.shape == (23, 43) and np.allclose(whole.sum(1), 1, atol=1e-5)
    # Batch sizes pick different oneDNN kernels: equal up to float rounding.
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    np.testing.assert_allclose(single, whole, atol=1e-5)
    assert empty.shape == (0, 43)


def test_images_of_any_size_go_through_the_runs_preprocessing():
    run = untrained(0, NAMES, "preprocess.color=gray", "preprocess.equalize=clahe")
    try:
        sizes = [IMAGES[0], np.zeros((50, 70, 3), np.uint8), np.full((9, 9, 3), 200, np.uint8)]
        probs = run.probabilities(sizes)
    finally:
        run.close()
    assert probs.shape == (3, 43) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_a_committee_averages_its_members_softmax():
    a, b = untrained(1), untrained(2, NAMES, "model.fc=[64]")
    pa, pb = a.probabilities(IMAGES), b.probabilities(IMAGES)
    assert not np.allclose(pa, pb, atol=1e-3)  # different weights, different outputs
    with Committee.of([a, b]) as committee:
        assert committee.class_names == NAMES and committee.cfg is a.cfg
        np.testing.assert_allclose(committee.probabilities(IMAGES), (pa + pb) / 2, atol=1e-6)


def test_a_committee_refuses_runs_trained_on_other_classes():
    a, b = untrained(1), untrained(2, NAMES[:42] + ["other"])
    with pytest.raises(CheckpointError, match="classes differ"):
        Committee.of([a, b])


def test_loading_a_folder_that_is_not_a_run_says_so(tmp_path):
    with pytest.raises(SignclfError, match="config.yaml"):
        Committee([tmp_path])
