"""signclf: traffic-sign classifiers trained TensorFlow-1.x style (tf.compat.v1 graphs)."""

import os

__version__ = "0.1.0"

# Past this many pixels (about a 6500×4900 photo, 96 MB decoded) signclf refuses an image: a sign
# classifier needs a crop, and a 1 MB file can declare far more; with a decoder per core, this
# keeps any command under about 1 GB whatever the files declare. OpenCV reads its own cap once,
# when cv2 loads, so it is set here, before any signclf module imports cv2;
# signclf.data.images also checks each file's header against it before decoding.
MAX_IMAGE_PIXELS = 32_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))
