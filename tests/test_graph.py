import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from signclf.config import load_config
from signclf.device import Device
from signclf.graph import build_inference_graph, split_batch

tf.disable_eager_execution()

STATS = {"mean": [120.0, 110.0, 100.0], "std": [60.0, 55.0, 50.0]}
CPU = Device("CPU (2 cores)", gpu=False, cores=2, towers=1, float16=False, blocked_conv=True)
GPU = Device("GPU (test)", gpu=True, cores=2, towers=1, float16=False, blocked_conv=False)


@pytest.mark.parametrize("n,towers,sizes", [(128, 2, [64, 64]), (5, 2, [3, 2]), (7, 3, [3, 2, 2]), (1, 2, [1, 1]),
                                             (2, 4, [1, 1, 1, 1])])
def test_split_batch_keeps_every_row_once_in_order_and_never_leaves_a_part_empty(n, towers, sizes):
    with tf.Graph().as_default(), tf.Session() as sess:
        x = tf.placeholder(tf.int32, [None])
        parts = sess.run(split_batch(x, towers), {x: np.arange(10, 10 + n)})
    assert [len(p) for p in parts] == sizes
    joined = np.concatenate(parts)
    np.testing.assert_array_equal(joined[:n], np.arange(10, 10 + n))
    assert set(joined[n:]) <= {10}  # padding repeats the first row


@pytest.mark.parametrize("batch_norm", [False, True])
def test_towers_compute_the_same_probabilities_as_one_graph(batch_norm):
    images = np.random.default_rng(0).integers(0, 255, (37, 32, 32, 3), dtype=np.uint8)
    out = {}
    for towers in (1, 3):
        cfg = load_config(None, [f"model.batch_norm={batch_norm}"])
        device = Device("CPU", gpu=False, cores=2, towers=towers, float16=False, blocked_conv=True)
        net = build_inference_graph(cfg, STATS, 43, device)
        with net.graph.as_default():
            tf.set_random_seed(0)
            init = tf.global_variables_initializer()
            names = sorted(v.name for v in tf.global_variables())
        with tf.Session(graph=net.graph, config=device.session_config()) as sess:
            sess.run(init)
            if towers == 1:
                weights = {v.name: sess.run(v) for v in net.graph.get_collection("variables")}
            else:  # the same weights as the single graph
                for v in net.graph.get_collection("variables"):
                    v.load(weights[v.name], sess)
            out[towers] = sess.run(net.probabilities, {net.images: images})
        assert names == sorted(weights)  # towers share one set of variables
    assert out[3].shape == (37, 43)
    np.testing.assert_allclose(out[3], out[1], atol=1e-6)


def test_the_graph_follows_the_devices_blocked_conv_decision():
    # LeNet-5's 3→6 conv0 runs blocked (a stride-2 convolution) only where the Device says so.
    cfg = load_config(None, [])

    def conv_strides(device):
        net = build_inference_graph(cfg, STATS, 43, device)
        return sorted(op.get_attr("strides")[1] for op in net.graph.get_operations() if op.type == "Conv2D")

    assert 2 in conv_strides(CPU)
    assert set(conv_strides(GPU)) == {1}
