"""Every kind of file a user's disk holds: predicted, or reported with its reason, never a crash."""

import os

import cv2
import numpy as np
import pytest
from PIL import Image

from signclf.data.images import list_image_files, read_image, resize
from signclf.errors import DataError
from signclf.predict import predict_files


class UniformCommittee:
    """Stands in for trained runs: these tests are about files, not about the network."""

    class_names = ["a", "b", "c"]

    def __init__(self):
        self.seen = []

    def probabilities(self, images, batch_size=1024):
        self.seen.extend(img.shape for img in images)
        return np.tile([[0.5, 0.3, 0.2]], (len(images), 1))


def make_zoo(d):
    rgb = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    cv2.imwrite(str(d / "ok.png"), rgb)
    cv2.imwrite(str(d / "ok.ppm"), rgb)
    cv2.imwrite(str(d / "ok.bmp"), rgb)
    cv2.imwrite(str(d / "ok.jpg"), rgb)
    cv2.imwrite(str(d / "gray.png"), rgb[:, :, 0])
    cv2.imwrite(str(d / "rgba.png"), np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)]))
    cv2.imwrite(str(d / "deep16.png"), (rgb.astype(np.uint16) * 257))
    cv2.imwrite(str(d / "tiny1x1.png"), rgb[:1, :1])
    cv2.imwrite(str(d / "huge.png"), np.zeros((4_900, 6_500), np.uint8))  # 32 megapixels, just under the limit
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(d / "cmyk.jpg")
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue")]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    (d / "zero.png").write_bytes(b"")
    (d / "text.png").write_text("this is not a picture")
    png = (d / "ok.png").read_bytes()
    (d / "truncated.png").write_bytes(png[: len(png) // 3])
    jpg = (d / "ok.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(jpg[:200])
    os.symlink("loop_b.png", d / "loop_a.png")
    os.symlink("loop_a.png", d / "loop_b.png")
    return rgb


GOOD = {"ok.png", "ok.ppm", "ok.bmp", "ok.jpg", "gray.png", "rgba.png", "deep16.png", "tiny1x1.png", "huge.png",
        "cmyk.jpg", "anim.gif"}
BAD = {"zero.png": "empty file", "text.png": "not a decodable image", "truncated.png": "not a decodable image",
       "truncated.jpg": "not a decodable image", "loop_a.png": "symbolic links", "loop_b.png": "symbolic links"}


def test_every_file_is_predicted_or_reported(tmp_path):
    make_zoo(tmp_path)
    committee = UniformCommittee()
    preds = {os.path.basename(p.path): p for p in predict_files(committee, [tmp_path, tmp_path / "missing.png"])}
    assert {k for k, p in preds.items() if p.error is None} == GOOD
    for name, reason in BAD.items():
        assert reason in preds[name].error.lower(), (name, preds[name].error)
    assert "no such file" in preds["missing.png"].error
    assert all(shape[2] == 3 for shape in committee.seen)  # everything arrives as RGB


def test_read_image_converts_to_rgb_uint8(tmp_path):
    rgb = make_zoo(tmp_path)
    np.testing.assert_array_equal(read_image(tmp_path / "ok.png"), rgb[:, :, ::-1])  # file is BGR on disk
    for name in ("gray.png", "rgba.png", "deep16.png", "cmyk.jpg", "anim.gif"):
        img = read_image(tmp_path / name)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
    assert read_image(tmp_path / "anim.gif")[0, 0].tolist() == [255, 0, 0]  # first frame, red
    assert resize(read_image(tmp_path / "huge.png"), 32).shape == (32, 32, 3)
    assert resize(read_image(tmp_path / "tiny1x1.png"), 32).shape == (32, 32, 3)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_raise_dataerror_naming_the_file(tmp_path, name):
    make_zoo(tmp_path)
    with pytest.raises(DataError) as e:
        read_image(tmp_path / name)
    assert str(tmp_path / name) in str(e.value) and "\n" not in str(e.value)


def test_empty_directory_and_directory_loop_are_problems_not_crashes(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "looped").mkdir()
    os.symlink("..", tmp_path / "looped" / "up")
    files, problems = list_image_files([tmp_path / "empty"])
    assert files == [] and "no image files" in problems[0]
    preds = list(predict_files(UniformCommittee(), [tmp_path / "empty"]))
    assert len(preds) == 1 and preds[0].error
