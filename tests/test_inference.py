import numpy as np
import tensorflow.compat.v1 as tf

from signclf.config import load_config
from signclf.inference import LoadedRun

tf.disable_eager_execution()


def test_chunked_and_overlapped_inference_matches_one_batch():
    cfg = load_config(None, ["train.towers=2"])
    run = LoadedRun.untrained(cfg, {"mean": [120.0] * 3, "std": [60.0] * 3}, [f"c{i}" for i in range(43)])
    images = np.random.default_rng(0).integers(0, 255, (23, 32, 32, 3), dtype=np.uint8)
    try:
        whole = run.probabilities(images, batch_size=1024)
        chunked = run.probabilities(images, batch_size=4)  # 6 chunks, two in flight at a time, order kept
        single = np.concatenate([run.probabilities(images[i:i + 1]) for i in range(len(images))])
        empty = run.probabilities(images[:0])
    finally:
        run.close()
    assert whole.shape == (23, 43) and np.allclose(whole.sum(1), 1, atol=1e-5)
    # Batch sizes pick different oneDNN kernels: equal up to float rounding.
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    np.testing.assert_allclose(single, whole, atol=1e-5)
    assert empty.shape == (0, 43)
