"""signclf: traffic-sign classifiers trained TensorFlow-1.x style (tf.compat.v1 graphs)."""

__version__ = "0.1.0"
