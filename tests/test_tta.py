"""Test-time augmentation: fixed views, their average, and --tta through evaluate and predict."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import draw_sign, make_dataset, tiny_overrides
from signclf.tta import MAX_VIEWS, VIEWS, TestTimeAugmented, view, views_of, with_tta


def test_the_first_view_is_the_image_itself_and_the_others_move_it():
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert view(image, *VIEWS[0]) is image
    right = view(image, 1, 0, 1.0)
    np.testing.assert_array_equal(right[:, 1:], image[:, :-1])  # one pixel to the right
    np.testing.assert_array_equal(right[:, 0], image[:, 0])  # the border repeats the edge
    big = np.kron(image, np.ones((2, 2, 1), np.uint8))  # a 64-pixel crop shifts by two pixels
    np.testing.assert_array_equal(view(big, 0, 1, 1.0)[2:], big[:-2])
    assert len(set(VIEWS)) == MAX_VIEWS


def test_a_zoom_in_enlarges_the_centre():
    image = np.zeros((32, 32, 3), np.uint8)
    image[8:24, 8:24] = 255
    mass = lambda img: int(img.astype(int).sum())  # noqa: E731  (grows with the square's area)
    assert mass(view(image, 0, 0, 1.1)) > mass(image) > mass(view(image, 0, 0, 0.92))


def test_views_keep_arrays_arrays_and_lists_lists_of_any_size():
    batch = make_dataset(2, classes=2)[0]
    out = views_of(batch, 3)
    assert isinstance(out, np.ndarray) and out.shape == batch.shape and not np.array_equal(out, batch)
    mixed = [batch[0], cv2.resize(batch[1], (50, 40))]
    out = views_of(mixed, 5)
    assert isinstance(out, list) and [o.shape for o in out] == [(32, 32, 3), (40, 50, 3)]


class Recorder:
    """A model whose probability for class 0 is the mean brightness of the image's left column."""

    cfg, class_names = "cfg", ["a", "b"]

    def __init__(self):
        self.calls, self.closed = 0, False

    def probabilities(self, images, batch_size):
        self.calls += 1
        left = np.array([img[:, 0].mean() / 255 for img in images])
        return np.stack([left, 1 - left], axis=1)

    def close(self):
        self.closed = True


def test_the_average_is_over_exactly_n_views_and_repeatable():
    images = np.random.default_rng(1).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    model = Recorder()
    assert with_tta(model, 1) is model
    tta = with_tta(model, 4)
    probs = tta.probabilities(images, 16)
    assert model.calls == 4 and tta.cfg == "cfg" and tta.class_names == ["a", "b"]
    expected = np.mean([Recorder().probabilities(views_of(images, i), 16) for i in range(4)], axis=0)
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_array_equal(probs, with_tta(Recorder(), 4).probabilities(images, 16))
    with tta:
        pass
    assert model.closed
    with pytest.raises(ValueError):
        TestTimeAugmented(model, MAX_VIEWS + 1)


def _sets(data, **extra):
    return [a for o in tiny_overrides(data, **extra) for a in ("--set", o)]


def test_evaluate_and_predict_take_tta(tiny_data, tmp_path):
    from signclf.cli import main

    run = tmp_path / "run"
    assert CliRunner().invoke(main, ["train", *_sets(tiny_data), "--run", str(run), "--no-progress"]).exit_code == 0
    plain = CliRunner().invoke(main, ["evaluate", "--run", str(run), "--json"])
    result = CliRunner().invoke(main, ["evaluate", "--run", str(run), "--json", "--tta", "5"])
    assert result.exit_code == 0, result.output
    with_views = json.loads(result.stdout)
    assert with_views["tta"] == 5 and with_views["split"] == "valid-tta5" and json.loads(plain.stdout)["tta"] == 1
    saved = json.loads((run / "evaluation.json").read_text())
    assert set(saved) == {"valid", "valid-tta5"} and (run / "confusion-valid-tta5.png").exists()
    assert "mean of 5 views each" in CliRunner().invoke(main, ["evaluate", "--run", str(run), "--tta", "5"]).output
    image = tmp_path / "sign.png"
    cv2.imwrite(str(image), draw_sign(1, np.random.default_rng(0))[..., ::-1])
    one = CliRunner().invoke(main, ["predict", str(image), "--run", str(run), "--json", "--top-k", "4"])
    many = CliRunner().invoke(main, ["predict", str(image), "--run", str(run), "--json", "--top-k", "4", "--tta", "9"])
    assert one.exit_code == 0 and many.exit_code == 0, many.output
    p1 = {c["class_id"]: c["prob"] for c in json.loads(one.stdout)[0]["top_k"]}
    p9 = {c["class_id"]: c["prob"] for c in json.loads(many.stdout)[0]["top_k"]}
    assert p1.keys() == p9.keys() and p1 != p9
    bad = CliRunner().invoke(main, ["predict", str(image), "--run", str(run), "--tta", str(MAX_VIEWS + 1)])
    assert bad.exit_code == 2 and "--tta" in bad.output
