"""Towers on separate devices (one per GPU) give the same step as one tower.

No GPUs here: a Session with ConfigProto(device_count={"CPU": 2}) has two logical CPU devices,
and the towers are put on /cpu:0 and /cpu:1 exactly as they would be on /gpu:0 and /gpu:1.
Augmentation, dropout and batch norm are off, so both graphs compute the same function.
"""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import signclf.device as device_module
from conftest import make_dataset
from signclf.config import load_config
from signclf.device import Device
from signclf.graph import build_train_graph
from signclf.preprocess import compute_stats, prepare_images

TWO_CPUS = {"CPU": 2}


def _config():
    return load_config(None, ["augment.enabled=false", "model.keep_prob=1.0", "model.batch_norm=false",
                              "model.conv=[{kernel: 3, depth: 8, pool: 2}, {kernel: 3, depth: 8, pool: 2}]",
                              "model.fc=[16]", "train.batch_size=32", "train.learning_rate=0.01"])


def _device(towers: int, devices=()) -> Device:
    return Device("test", gpu=False, cores=2, towers=towers, float16=False, blocked_conv=False,
                  tower_devices=devices)


def _one_step(device: Device, cfg, images, labels, stats, weights=None):
    """(loss, weights after one step, devices that ran ops) for one training step on batch 0."""
    g = build_train_graph(cfg, stats, 4, images.shape, device)
    with tf.Session(graph=g.graph, config=tf.ConfigProto(device_count=TWO_CPUS)) as sess:
        with g.graph.as_default():
            sess.run(tf.global_variables_initializer())
            variables = sorted(tf.trainable_variables("model"), key=lambda v: v.name)
        sess.run(g.data_init, {g.images_source: images, g.labels_source: labels})
        if weights is not None:  # start both graphs from the same weights, whatever their op seeds
            for v in variables:
                v.load(weights[v.name], sess)
        before = {v.name: sess.run(v) for v in variables}
        metadata = tf.RunMetadata()
        _, loss = sess.run([g.train_op, g.loss], {g.batch_index: np.arange(cfg.train.batch_size, dtype=np.int32)},
                           options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=metadata)
        after = {v.name: sess.run(v) for v in variables}
    ran_on = {d.device.rsplit("/", 1)[-1] for d in metadata.step_stats.dev_stats if d.node_stats}
    return loss, before, after, ran_on


def test_two_towers_on_two_devices_take_the_same_step_as_one_tower():
    tf.disable_eager_execution()
    cfg = _config()
    raw, labels = make_dataset(16, seed=3)
    images = prepare_images(raw, cfg.preprocess, cfg.data.image_size)
    stats = compute_stats(images, cfg.preprocess)

    loss_one, start, after_one, _ = _one_step(_device(1), cfg, images, labels.astype(np.int64), stats)
    loss_two, _, after_two, ran_on = _one_step(_device(2, ("/cpu:0", "/cpu:1")), cfg, images,
                                               labels.astype(np.int64), stats, weights=start)

    assert ran_on == {"device:CPU:0", "device:CPU:1"}  # the second tower really ran on the second device
    assert loss_two == pytest.approx(loss_one, rel=1e-6)
    assert after_one.keys() == after_two.keys() and len(after_one) == 8  # 2 conv, 1 fc, the output: w and b
    for name in after_one:
        assert not np.allclose(after_one[name], start[name])  # the step moved every weight ...
        np.testing.assert_allclose(after_two[name], after_one[name], atol=1e-6, err_msg=name)  # ... the same way


def test_several_gpus_get_one_tower_each_and_the_model_line_says_so(monkeypatch):
    monkeypatch.setattr(device_module, "usable_cores", lambda: 8)
    monkeypatch.setattr(device_module, "gpu_names", lambda: ("/physical_device:GPU:0", "/physical_device:GPU:1"))
    monkeypatch.setattr(device_module, "_gpu_description", lambda names: "GPU (fake, 2 visible)")
    device = Device.for_training(_config().train)
    assert (device.towers, device.tower_devices, device.blocked_conv) == (2, ("/gpu:0", "/gpu:1"), False)
    assert device.describe() == "GPU (fake, 2 visible) × 2 towers on /gpu:0, /gpu:1"
    assert [device.tower_device(t) for t in range(2)] == ["/gpu:0", "/gpu:1"]


def test_one_gpu_keeps_one_tower_placed_by_tensorflow(monkeypatch):
    monkeypatch.setattr(device_module, "usable_cores", lambda: 8)
    monkeypatch.setattr(device_module, "gpu_names", lambda: ("/physical_device:GPU:0",))
    monkeypatch.setattr(device_module, "_gpu_description", lambda names: "GPU (fake)")
    device = Device.for_training(_config().train)
    assert (device.towers, device.tower_devices, device.tower_device(0)) == (1, (), None)
    assert device.describe() == "GPU (fake)"
