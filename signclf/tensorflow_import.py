"""Import TensorFlow late and quietly: only the commands that need it pay its ~3 s start-up.

TF 2.x's C++ core logs (oneDNN, CUDA probing) before TF_CPP_MIN_LOG_LEVEL is read, so the only
way to keep the user's terminal clean is to point file descriptor 2 elsewhere for the import.
"""

from __future__ import annotations

import os
import sys


def quiet_tensorflow(verbose: bool) -> None:
    """TensorFlow's start-up chatter hides our output; keep it only with --verbose."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    import warnings

    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def import_tensorflow(verbose: bool = False) -> None:
    """Import TensorFlow now, with stderr muted unless `verbose`."""
    quiet_tensorflow(verbose)
    if verbose or "tensorflow" in sys.modules:
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import absl.logging
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            absl.logging.set_verbosity(absl.logging.ERROR)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
