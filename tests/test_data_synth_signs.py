"""The 43 sign painters: each class drawn distinctly, mirrored pairs mirrored."""

import numpy as np

from signclf.data.synth_signs import PAINTERS, render_sign


def test_each_class_draws_a_face_unlike_every_other():
    faces = [render_sign(c, np.random.default_rng(0), 48)[0].astype(np.int16) for c in sorted(PAINTERS)]
    for i in range(len(faces)):
        for j in range(i + 1, len(faces)):
            assert np.abs(faces[i] - faces[j]).mean() > 1, f"classes {i} and {j} look the same"


def test_turn_left_and_turn_right_are_near_mirror_images():
    right = render_sign(33, np.random.default_rng(5), 48)[0].astype(int)  # "Turn right ahead"
    left = render_sign(34, np.random.default_rng(5), 48)[0].astype(int)  # "Turn left ahead"
    # Mirrored, they differ less than half as much as unmirrored (the arrow flips; the rest matches).
    assert np.abs(right - left[:, ::-1]).mean() < 0.5 * np.abs(right - left).mean()
