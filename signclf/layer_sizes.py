"""Sizes of the network's tensors, computed from the config alone (no TensorFlow).

The arithmetic mirrors model.build_logits, so a config whose layers TensorFlow could not hold (or
whose stages shrink the image to nothing) is refused when it is loaded, not after the data.
"""

from __future__ import annotations


def stage_sides(cfg) -> list[int]:
    """Side of each conv stage's output feature map (TF's VALID/SAME and pooling arithmetic); < 1 = nothing."""
    side, sides = cfg.data.image_size, []
    for s in cfg.model.conv:
        side = -(-side // s.stride) if s.padding == "SAME" else (side - s.kernel) // s.stride + 1
        if side >= 1 and s.pool > 1:
            side = (side - s.pool) // (s.pool_stride or s.pool) + 1
        sides.append(side)
        if side < 1:
            break
    return sides


def spatial_size(cfg) -> int:
    """Side of the last stage's feature map; 0 when the stages shrink the image to nothing."""
    sides = stage_sides(cfg)
    return max(sides[-1], 0) if len(sides) == len(cfg.model.conv) else 0


def classifier_inputs(cfg) -> int:
    """Features entering the first fully connected layer, as model.build_logits flattens them."""
    sides = stage_sides(cfg)
    last = sides[-1]
    if not cfg.model.multiscale:
        return last * last * cfg.model.conv[-1].depth
    total = 0
    for side, stage in zip(sides, cfg.model.conv):  # earlier stages max-pooled down to the last one's size
        factor = side // max(last, 1)
        if factor > 1:
            side = (side - factor) // factor + 1
        total += side * side * stage.depth
    return total


def weight_counts(cfg, num_classes: int) -> dict[str, int]:
    """Elements of each layer's weight matrix, by config key (biases and batch-norm terms are smaller)."""
    counts, channels = {}, cfg.input_channels
    for i, stage in enumerate(cfg.model.conv):
        counts[f"model.conv.{i}"] = stage.kernel * stage.kernel * channels * stage.depth
        channels = stage.depth
    width = classifier_inputs(cfg)
    for i, units in enumerate(cfg.model.fc):
        counts[f"model.fc.{i}"] = width * units
        width = units
    counts["logits"] = width * num_classes
    return counts
