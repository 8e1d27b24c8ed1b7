import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from signclf.config import load_config
from signclf.model import build_logits, count_parameters, weight_decay

tf.disable_eager_execution()


def build(overrides, training=False, batch=5, channels=3, size=32, num_classes=43):
    cfg = load_config(None, overrides)
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, [None, size, size, channels])
        seed = tf.constant([1, 2], tf.int64)
        logits = build_logits(images, cfg.model, num_classes, training=training, dropout_seed=seed)
        names = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
        params = count_parameters()
        decay = weight_decay(cfg.model)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            x = np.random.default_rng(0).normal(size=(batch, size, size, channels)).astype(np.float32)
            out = sess.run(logits, {images: x})
            out2 = sess.run(logits, {images: x})
            l2 = sess.run(decay)
    return out, out2, names, params, l2


def test_lenet5_shapes_names_and_parameter_count():
    out, _, names, params, _ = build([])
    assert out.shape == (5, 43) and np.isfinite(out).all()
    assert names["model/conv0/weights"] == [5, 5, 3, 6]
    assert names["model/conv1/weights"] == [5, 5, 6, 16]
    assert names["model/fc0/weights"] == [400, 120]
    assert names["model/fc1/weights"] == [120, 84]
    assert names["model/logits/weights"] == [84, 43]
    # The textbook LeNet-5 on 32×32×3: 456 + 2,416 + 48,120 + 10,164 + 3,655 parameters.
    assert params == 64811


def test_dropout_only_in_training():
    out_eval, out_eval2, *_ = build(["model.keep_prob=0.5"], training=False)
    np.testing.assert_array_equal(out_eval, out_eval2)
    out_train, _, *_ = build(["model.keep_prob=0.5"], training=True)
    assert not np.allclose(out_train, out_eval)


def test_multiscale_concatenates_stages():
    _, _, names, _, _ = build(["model.multiscale=true", "model.conv=[{kernel: 5, depth: 32, padding: SAME}, "
                               "{kernel: 5, depth: 64, padding: SAME}]", "model.fc=[100]"])
    # stage 1: 16×16×32 pooled again to 8×8×32 = 2048; stage 2: 8×8×64 = 4096
    assert names["model/fc0/weights"] == [2048 + 4096, 100]


def test_batch_norm_variables_and_gray_input():
    out, _, names, _, _ = build(["model.batch_norm=true", "preprocess.color=gray"], channels=1, training=True)
    assert out.shape == (5, 43)
    assert "model/conv0/bn_moving_mean" in names and "model/conv0/biases" not in names
    assert names["model/conv0/weights"] == [5, 5, 1, 6]


def test_l2_penalty_counts_weights_only():
    *_, l2_off = build([])
    *_, l2_on = build(["model.l2=0.001"])
    assert l2_off == 0.0 and l2_on > 0


@pytest.mark.parametrize("k", [3, 5])
def test_any_number_of_stages(k):
    stages = ", ".join([f"{{kernel: {k}, depth: 8, padding: SAME, pool: 1}}"] * 4)
    out, _, names, _, _ = build([f"model.conv=[{stages}]", "model.fc=[]"], num_classes=7)
    assert out.shape == (5, 7)
    assert names["model/conv3/weights"] == [k, k, 8, 8]


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_standardisation_folded_into_conv0_equals_normalising_first(padding):
    from signclf.preprocess import normalize

    cfg = load_config(None, [f"model.conv=[{{kernel: 5, depth: 6, padding: {padding}}}, {{kernel: 5, depth: 16}}]"])
    stats = {"mean": [90.0, 80.0, 70.0], "std": [50.0, 60.0, 40.0]}
    raw = np.random.default_rng(3).integers(0, 256, (4, 32, 32, 3)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.constant(raw)
        folded = build_logits(images, cfg.model, 43, input_stats=stats)
        first = build_logits(normalize(images, stats), cfg.model, 43)  # same variables (AUTO_REUSE)
        sess.run(tf.global_variables_initializer())
        a, b = sess.run([folded, first])
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("channels,kernel,depth,stats", [(3, 5, 6, True), (1, 5, 6, False), (3, 3, 8, True)])
def test_blocked_conv0_is_the_same_function_with_the_same_gradients(channels, kernel, depth, stats):
    # The CPU path computes conv0 + pool as one stride-2 convolution; values and gradients must
    # match the plain layers, or a run trained on a CPU would mean something else on a GPU.
    cfg = load_config(None, [f"model.conv=[{{kernel: {kernel}, depth: {depth}}}, {{kernel: 5, depth: 16}}]"])
    input_stats = {"mean": [90.0, 80.0, 70.0][:channels], "std": [50.0, 60.0, 40.0][:channels]} if stats else None
    rng = np.random.default_rng(4)
    raw = rng.integers(0, 256, (6, 32, 32, channels)).astype(np.float32)
    raw = raw if stats else (raw - 128) / 64
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.constant(raw)
        plain = build_logits(images, cfg.model, 43, input_stats=input_stats)
        blocked = build_logits(images, cfg.model, 43, input_stats=input_stats, blocked_conv=True)
        assert len(tf.trainable_variables()) == 10  # the same variables: nothing new for the blocked path
        ops = tf.get_default_graph().get_operations()
        assert any(op.type == "Conv2D" and op.get_attr("strides")[1] == 2 for op in ops)
        targets = tf.constant(rng.normal(size=(6, 43)).astype(np.float32))
        grads = [tf.gradients(tf.reduce_sum(logits * targets), tf.trainable_variables()) for logits in (plain, blocked)]
        sess.run(tf.global_variables_initializer())
        sess.run([v.assign(v + 0.05) for v in tf.trainable_variables() if "biases" in v.name])  # ReLU sees ± values
        a, b, ga, gb = sess.run([plain, blocked, *grads])
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)
    assert np.abs(a).max() > 0.1
    for x, y in zip(ga, gb):
        np.testing.assert_allclose(y, x, rtol=1e-3, atol=1e-4 * np.abs(x).max())


@pytest.mark.parametrize("override", ["model.batch_norm=true", "model.conv=[{kernel: 5, depth: 16}]",
                                      "model.conv=[{kernel: 5, depth: 6, padding: SAME}]",
                                      "model.conv=[{kernel: 4, depth: 6}]",
                                      "model.conv=[{kernel: 5, depth: 6, pool: 3}]",
                                      "model.conv=[{kernel: 5, depth: 6, stride: 2}]"])
def test_blocked_conv0_only_where_it_is_exact_and_faster(override):
    cfg = load_config(None, [override])
    with tf.Graph().as_default() as graph:
        build_logits(tf.zeros([2, 32, 32, 3]), cfg.model, 43, blocked_conv=True)
        gathers = [op for op in graph.get_operations() if op.type == "GatherV2"]
    assert not gathers, f"{override} should keep the plain convolution"
