"""Import TensorFlow late and quietly: only the commands that need it pay its ~3 s start-up.

TF 2.x's C++ core logs (oneDNN, CUDA probing) before TF_CPP_MIN_LOG_LEVEL is read, so the only
way to keep the user's terminal clean is to point file descriptor 2 elsewhere for the import.
"""

from __future__ import annotations

import contextlib
import os
import sys

from signclf.errors import SignclfError


def quiet_tensorflow(verbose: bool) -> None:
    """TensorFlow's start-up chatter hides our output; keep it only with --verbose."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    import warnings

    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


@contextlib.contextmanager
def stderr_muted():
    """Silence what C++ code writes to file descriptor 2 meanwhile (TensorFlow's oneDNN and CUDA
    probing, LiteRT's delegate notice, the TFLite converter's settings): signclf's stderr carries
    only its own notes and errors. Python exceptions still carry their messages."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow(verbose: bool = False) -> None:
    """Import TensorFlow now, with stderr muted unless `verbose`; one line if it cannot be imported."""
    quiet_tensorflow(verbose)
    try:
        with contextlib.nullcontext() if verbose or "tensorflow" in sys.modules else stderr_muted():
            import absl.logging
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError as e:
        raise SignclfError(f"TensorFlow cannot be imported ({e}); install signclf with its dependencies "
                           f"(pip install -e . in its checkout), or predict with an exported bundle: "
                           f"signclf predict --model BUNDLE") from None
