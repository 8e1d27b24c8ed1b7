import pytest

from signclf.config import load_config
from signclf.layer_sizes import classifier_inputs, spatial_size, stage_sides, weight_counts

CONFIGS = [
    [],
    ["model.multiscale=true"],
    ["model.multiscale=true", "data.image_size=48", "preprocess.color=gray",
     "model.conv=[{kernel: 3, depth: 8, padding: SAME}, {kernel: 5, depth: 12, stride: 2, pool: 3, pool_stride: 2},"
     " {kernel: 3, depth: 16, pool: 1}]"],
    ["model.conv=[{kernel: 7, depth: 4, stride: 3, padding: SAME, pool: 1}]", "model.fc=[]"],
]


@pytest.mark.parametrize("overrides", CONFIGS)
def test_weight_counts_match_the_graph_tensorflow_builds(overrides):
    import tensorflow.compat.v1 as tf

    from signclf.model import build_logits

    cfg = load_config(None, overrides)
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, cfg.data.image_size, cfg.data.image_size, cfg.input_channels])
        build_logits(images, cfg.model, num_classes=7)
        built = {v.name: v.shape.num_elements() for v in tf.trainable_variables() if v.name.endswith("/weights:0")}
    expected = {f"model/conv{i}/weights:0" for i in range(len(cfg.model.conv))}
    expected |= {f"model/fc{i}/weights:0" for i in range(len(cfg.model.fc))} | {"model/logits/weights:0"}
    assert set(built) == expected
    counts = weight_counts(cfg, num_classes=7)
    for key, count in counts.items():
        kind, _, index = key.partition(".")[2].partition(".")  # "model.fc.1" → fc, 1
        name = "model/logits/weights:0" if key == "logits" else f"model/{kind}{index}/weights:0"
        assert built[name] == count, key


def test_lenet_arithmetic():
    cfg = load_config(None)  # 32 → conv5 28 → pool 14 → conv5 10 → pool 5
    assert stage_sides(cfg) == [14, 5] and spatial_size(cfg) == 5
    assert classifier_inputs(cfg) == 5 * 5 * 16
    assert classifier_inputs(load_config(None, ["model.multiscale=true"])) == 5 * 5 * 16 + 7 * 7 * 6
    assert weight_counts(cfg, 43) == {"model.conv.0": 5 * 5 * 3 * 6, "model.conv.1": 5 * 5 * 6 * 16,
                                      "model.fc.0": 400 * 120, "model.fc.1": 120 * 84, "logits": 84 * 43}
