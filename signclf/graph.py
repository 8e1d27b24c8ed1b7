"""Assemble the TensorFlow graphs: a training graph (data on the device, augmentation, loss,
Adam) with an evaluation tower that shares its weights, and a bare inference graph for
evaluate/predict. Both feed uint8 prepared pixels (preprocess.prepare_images) to
`model.build_logits` with the run's saved statistics, so a trained run, its evaluation and its
predictions see exactly the same function of the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow.compat.v1 as tf

from signclf.augment import augment_batch, mixup
from signclf.config import Config, TrainConfig
from signclf.device import Device
from signclf.model import build_logits, weight_decay

# Static loss scale for float16 training: keeps small gradients from flushing to zero.
_LOSS_SCALE = 1024.0


def split_batch(x, towers: int) -> list:
    """Split along the batch axis into `towers` parts whose sizes differ by at most one.

    No part is ever empty (oneDNN's convolutions fail on an empty batch): a batch of fewer than
    `towers` rows, like a single image to predict, is padded with copies of its first row. Callers
    keep only the first len(x) rows of whatever they concatenate back.
    """
    if towers == 1:
        return [x]
    n = tf.shape(x)[0]
    # Pad unconditionally: a tf.cond around the concat would put a branch into every training step.
    x = tf.concat([x, tf.gather(x, tf.zeros([tf.maximum(towers - n, 0)], tf.int32))], axis=0)
    n = tf.maximum(n, towers)
    sizes = n // towers + tf.cast(tf.range(towers) < n % towers, tf.int32)
    return tf.split(x, sizes, num=towers)


class TrainState:
    """Counters that must survive a restart live in the checkpoint, next to the weights."""

    FIELDS = {"global_step": tf.int64, "epoch": tf.int64, "step_in_epoch": tf.int64, "best_valid_acc": tf.float32,
              "best_epoch": tf.int64, "bad_epochs": tf.int64, "lr_scale": tf.float32, "plateau_bad_epochs": tf.int64,
              # the interrupted epoch's running train loss/accuracy, so its metrics.csv row covers all its steps
              "epoch_loss_sum": tf.float64, "epoch_correct": tf.int64, "epoch_seen": tf.int64}
    # Checkpoints of runs from format 1 lack these; they restore as 0 (a resume at an epoch boundary).
    OPTIONAL = ("epoch_loss_sum", "epoch_correct", "epoch_seen")

    def __init__(self):
        with tf.variable_scope("train_state"):
            self.vars = {name: tf.get_variable(name, [], dtype, trainable=False,
                                               initializer=tf.ones_initializer() if name == "lr_scale"
                                               else tf.zeros_initializer())
                         for name, dtype in self.FIELDS.items()}
        self.global_step = self.vars["global_step"]

    def read(self, sess) -> dict:
        values = sess.run(self.vars)
        return {k: (float(v) if self.FIELDS[k] in (tf.float32, tf.float64) else int(v)) for k, v in values.items()}

    def write(self, sess, **values) -> None:
        for name, value in values.items():
            self.vars[name].load(value, sess)


@dataclass
class TrainGraph:
    graph: tf.Graph
    state: TrainState
    data_init: tf.Operation
    images_source: tf.Tensor  # placeholders fed once, at initialisation
    labels_source: tf.Tensor
    batch_index: tf.Tensor
    learning_rate: tf.Tensor
    train_op: tf.Operation
    loss: tf.Tensor
    correct: tf.Tensor
    eval_images: tf.Tensor
    eval_labels: tf.Tensor
    eval_loss_sum: tf.Tensor
    eval_correct: tf.Tensor
    eval_logits: tf.Tensor
    teacher_source: tf.Tensor | None = None  # N×K teacher probabilities, fed once (train.teacher)


def _compute_dtype(device: Device):
    return tf.float16 if device.float16 else tf.float32


def _optimizer(train: TrainConfig, learning_rate):
    if train.optimizer == "momentum":
        # The classic alternative to Adam: one step size for every weight, so the L2 term pulls all
        # weights alike. On best.yaml it matched Adam under cross-validation (README, accuracy levers).
        return tf.train.MomentumOptimizer(learning_rate, train.momentum, use_nesterov=True)
    return tf.train.AdamOptimizer(learning_rate)


def _eval_tower(cfg: Config, stats: dict, num_classes: int, device: Device, ema=None):
    """Validation/inference tower; with `ema` (training graph) it reads the averaged weights."""
    size, channels = cfg.data.image_size, cfg.input_channels
    images = tf.placeholder(tf.uint8, [None, size, size, channels], name="images")

    def averaged(getter, *args, **kwargs):
        var = getter(*args, **kwargs)
        average = ema.average(var)
        return var if average is None else average  # batch-norm statistics are averages already

    parts = []
    with tf.variable_scope(tf.get_variable_scope(), custom_getter=averaged if ema else None):
        for t, part in enumerate(split_batch(images, device.towers)):
            with tf.device(device.tower_device(t)):
                parts.append(build_logits(tf.cast(part, _compute_dtype(device)), cfg.model, num_classes,
                                          training=False, input_stats=stats, blocked_conv=device.blocked_conv))
    logits = tf.concat(parts, axis=0)[:tf.shape(images)[0]]
    tf.nn.softmax(logits, name="probabilities")
    return images, logits


def build_train_graph(cfg: Config, stats: dict, num_classes: int, train_shape, device: Device,
                      mirror_table=None, teacher: bool = False) -> TrainGraph:
    """Graph whose training data lives in a (non-checkpointed) variable: a step feeds only indices.
    With `teacher`, the teacher's probabilities for each training image (distill.py) live beside them
    and make up train.teacher_weight of its target."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(cfg.train.seed)
        state = TrainState()
        compute_dtype = _compute_dtype(device)

        # uint8 images in device memory; float conversion happens per batch, on the device.
        images_source = tf.placeholder(tf.uint8, train_shape, name="images_source")
        labels_source = tf.placeholder(tf.int64, [train_shape[0]], name="labels_source")
        local = [tf.GraphKeys.LOCAL_VARIABLES]
        train_images = tf.Variable(images_source, trainable=False, collections=local, name="train_images")
        train_labels = tf.Variable(labels_source, trainable=False, collections=local, name="train_labels")
        data_init = [train_images.initializer, train_labels.initializer]
        teacher_source = None
        if teacher:
            teacher_source = tf.placeholder(tf.float32, [train_shape[0], num_classes], name="teacher_source")
            train_teacher = tf.Variable(teacher_source, trainable=False, collections=local, name="train_teacher")
            data_init.append(train_teacher.initializer)
        data_init = tf.group(*data_init)

        batch_index = tf.placeholder(tf.int32, [None], name="batch_index")
        step_seed = tf.stack([tf.constant(cfg.train.seed, tf.int64), state.global_step])
        tower_logits, tower_labels, tower_targets = [], [], []
        for t, index in enumerate(split_batch(batch_index, device.towers)):
            # Each tower draws its own augmentation and dropout: (seed + t·large prime, step).
            seed = step_seed + tf.constant([t * 1_000_003, 0], tf.int64)
            update_ops = len(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
            x = tf.cast(tf.gather(train_images, index), tf.float32)
            y = tf.gather(train_labels, index)
            # With several GPUs, tower t runs on GPU t; the weights, made by tower 0 under AUTO_REUSE,
            # live on the first. One loss over the concatenated logits is the towers' losses weighted
            # by their sizes, so its gradient is the towers' gradients averaged.
            with tf.device(device.tower_device(t)):
                if cfg.augment.enabled:
                    x, y = augment_batch(x, y, cfg.augment, seed, mirror_table)
                targets = tf.one_hot(y, num_classes)
                if cfg.train.label_smoothing:
                    targets = targets * (1 - cfg.train.label_smoothing) + cfg.train.label_smoothing / num_classes
                if teacher:
                    weight = cfg.train.teacher_weight
                    targets = (1 - weight) * targets + weight * tf.gather(train_teacher, index)
                if cfg.augment.enabled and cfg.augment.mixup > 0:
                    x, targets = mixup(x, targets, cfg.augment.mixup, seed)
                tower_logits.append(build_logits(tf.cast(x, compute_dtype), cfg.model, num_classes, training=True,
                                                 dropout_seed=seed + tf.constant([1, 0], tf.int64), input_stats=stats,
                                                 blocked_conv=device.blocked_conv))
            tower_labels.append(y)
            tower_targets.append(targets)
            if t > 0:
                # Batch norm normalises each tower with its own batch statistics ("ghost" batches);
                # the moving averages follow the first tower only, so they move once per step.
                del tf.get_collection_ref(tf.GraphKeys.UPDATE_OPS)[update_ops:]
        n = tf.shape(batch_index)[0]  # the real rows: split_batch may pad a tiny last batch
        logits, y = tf.concat(tower_logits, axis=0)[:n], tf.concat(tower_labels, axis=0)[:n]
        targets = tf.concat(tower_targets, axis=0)[:n]
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=targets, logits=logits))
        total_loss = loss + weight_decay(cfg.model)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.int32))

        learning_rate = tf.placeholder_with_default(tf.constant(cfg.train.learning_rate, tf.float32), [],
                                                    name="learning_rate")
        optimizer = _optimizer(cfg.train, learning_rate)
        params = tf.trainable_variables("model")
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            if compute_dtype == tf.float16:
                grads = tf.gradients(total_loss * _LOSS_SCALE, params, colocate_gradients_with_ops=True)
                pairs = [(g / _LOSS_SCALE, v) for g, v in zip(grads, params)]
                train_op = optimizer.apply_gradients(pairs, global_step=state.global_step)
            else:
                train_op = optimizer.minimize(total_loss, global_step=state.global_step, var_list=params,
                                              colocate_gradients_with_ops=True)  # each tower's backward on its device
        ema = None
        if cfg.train.ema_decay > 0:
            # Polyak averaging: the average of the last few hundred steps' weights generalises better
            # than the last step's. num_updates makes the decay start small, so the average does not
            # remember the random initialisation.
            ema = tf.train.ExponentialMovingAverage(cfg.train.ema_decay, num_updates=state.global_step)
            with tf.control_dependencies([train_op]):
                train_op = ema.apply(params)

        eval_images, eval_logits = _eval_tower(cfg, stats, num_classes, device, ema)
        eval_labels = tf.placeholder(tf.int64, [None], name="labels")
        eval_loss_sum = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=eval_labels,
                                                                                      logits=eval_logits))
        eval_correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(eval_logits, 1), eval_labels), tf.int32))
    return TrainGraph(graph, state, data_init, images_source, labels_source, batch_index, learning_rate, train_op,
                      loss, correct, eval_images, eval_labels, eval_loss_sum, eval_correct, eval_logits,
                      teacher_source)


@dataclass
class InferenceGraph:
    graph: tf.Graph
    images: tf.Tensor  # uint8 N×S×S×C, the output of preprocess.prepare_images
    logits: tf.Tensor
    probabilities: tf.Tensor


def build_inference_graph(cfg: Config, stats: dict, num_classes: int, device: Device) -> InferenceGraph:
    graph = tf.Graph()
    with graph.as_default():
        images, logits = _eval_tower(cfg, stats, num_classes, device)
        probabilities = graph.get_tensor_by_name("probabilities:0")
    return InferenceGraph(graph, images, logits, probabilities)


def model_variables(graph: tf.Graph) -> list:
    """Weights and batch-norm statistics: what inference and fine-tuning restore."""
    with graph.as_default():
        return [v for v in tf.global_variables() if v.name.startswith("model/") and _EMA not in v.op.name]


_EMA = "ExponentialMovingAverage"  # tf.train.ExponentialMovingAverage's name for its shadow variables


def weights_to_restore(graph: tf.Graph, ema: bool) -> dict:
    """Checkpoint name → variable for the model's weights. With `ema` (the run trained with
    train.ema_decay) each trainable weight comes from its moving average, which is what the run
    validated and kept as best."""
    with graph.as_default():
        trainable = {v.op.name for v in tf.trainable_variables()}
    return {(f"{v.op.name}/{_EMA}" if ema and v.op.name in trainable else v.op.name): v
            for v in model_variables(graph)}
