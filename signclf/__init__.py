"""signclf: traffic-sign classifiers trained TensorFlow-1.x style (tf.compat.v1 graphs)."""

import os

__version__ = "0.1.0"

# A 10,000×10,000 RGB photo is 300 MB decoded; past this many pixels signclf refuses an image
# rather than swap. OpenCV reads its own cap once, when cv2 loads, so it is set here, before any
# signclf module imports cv2; signclf.data.images also checks each file's header against it.
MAX_IMAGE_PIXELS = 120_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))
